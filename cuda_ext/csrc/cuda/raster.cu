// CUDA tile rasterizer: one 16x16 thread block per tile, one thread per pixel, the
// tile's depth-sorted Gaussians staged through shared memory in batches of 256.
// Backward walks the list back to front, reduces each Gaussian's gradient within a
// warp (shuffles), and lane 0 issues the atomic adds.
#include <cuda_runtime.h>

#include "../gaussian_math.h"
#include "../kernels.h"
#include "cuda_check.cuh"

namespace gs {
namespace {

constexpr int BLOCK = TILE * TILE;

struct __align__(16) GaussShared {
    float mx, my, ca, cb, cc, op, r, g, b, z;
    int32_t id;
};

__device__ __forceinline__ void load_gaussian(const RasterArgs& a, int32_t gi, GaussShared& s) {
    s.id = gi;
    s.mx = a.means2d[2 * gi];
    s.my = a.means2d[2 * gi + 1];
    s.ca = a.conics[3 * gi];
    s.cb = a.conics[3 * gi + 1];
    s.cc = a.conics[3 * gi + 2];
    s.op = a.opacities[gi];
    s.r = a.colors[3 * gi];
    s.g = a.colors[3 * gi + 1];
    s.b = a.colors[3 * gi + 2];
    s.z = a.depths[gi];
}

__global__ void __launch_bounds__(BLOCK) raster_fwd_kernel(RasterArgs a, float* out_rgb, float* out_alpha,
                                                           float* out_depth, float* final_T, int32_t* n_contrib) {
    const int tiles_x = (a.width + TILE - 1) / TILE;
    const int64_t tile = (int64_t)blockIdx.y * tiles_x + blockIdx.x;
    const int px = blockIdx.x * TILE + threadIdx.x, py = blockIdx.y * TILE + threadIdx.y;
    const int tid = threadIdx.y * TILE + threadIdx.x;
    const bool inside = px < a.width && py < a.height;
    const float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
    const int64_t start = a.tile_offsets[tile], end = a.tile_offsets[tile + 1];
    __shared__ GaussShared sh[BLOCK];
    bool done = !inside;
    float Tr = 1.f, R = 0.f, G = 0.f, B = 0.f, D = 0.f;
    int32_t last = 0;
    for (int64_t base = start; base < end; base += BLOCK) {
        if (__syncthreads_count(done) == BLOCK) break;
        const int64_t k = base + tid;
        if (k < end) load_gaussian(a, a.isect_ids[k], sh[tid]);
        __syncthreads();
        const int n = (int)min((int64_t)BLOCK, end - base);
        for (int j = 0; !done && j < n; ++j) {
            const GaussShared& s = sh[j];
            const float dx = fx - s.mx, dy = fy - s.my;
            const float power = -0.5f * (s.ca * dx * dx + s.cc * dy * dy) - s.cb * dx * dy;
            if (power > 0.f) continue;
            const float alpha = fminf(ALPHA_MAX, s.op * expf(power));
            if (alpha < ALPHA_MIN) continue;
            const float nt = Tr * (1.f - alpha);
            if (nt < T_MIN) {
                done = true;
                break;
            }
            const float w = alpha * Tr;
            R += w * s.r;
            G += w * s.g;
            B += w * s.b;
            D += w * s.z;
            Tr = nt;
            last = (int32_t)(base - start + j + 1);
        }
    }
    if (!inside) return;
    const int64_t p = (int64_t)py * a.width + px;
    const float bg0 = a.background ? a.background[0] : 0.f, bg1 = a.background ? a.background[1] : 0.f,
                bg2 = a.background ? a.background[2] : 0.f;
    out_rgb[3 * p] = R + Tr * bg0;
    out_rgb[3 * p + 1] = G + Tr * bg1;
    out_rgb[3 * p + 2] = B + Tr * bg2;
    out_alpha[p] = 1.f - Tr;
    out_depth[p] = D;
    final_T[p] = Tr;
    n_contrib[p] = last;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

__global__ void __launch_bounds__(BLOCK)
    raster_bwd_kernel(RasterArgs a, const float* final_T, const int32_t* n_contrib, const float* v_rgb,
                      const float* v_alpha, const float* v_depth, float* v_means2d, float* v_conics, float* v_colors,
                      float* v_opacities, float* v_depths, float* v_means2d_abs) {
    const int tiles_x = (a.width + TILE - 1) / TILE;
    const int64_t tile = (int64_t)blockIdx.y * tiles_x + blockIdx.x;
    const int px = blockIdx.x * TILE + threadIdx.x, py = blockIdx.y * TILE + threadIdx.y;
    const int tid = threadIdx.y * TILE + threadIdx.x;
    const int lane = tid & 31;
    const bool inside = px < a.width && py < a.height;
    const float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
    const int64_t start = a.tile_offsets[tile], end = a.tile_offsets[tile + 1];
    __shared__ GaussShared sh[BLOCK];

    const int64_t p = inside ? (int64_t)py * a.width + px : 0;
    const int32_t last = inside ? n_contrib[p] : 0;
    const float T_final = inside ? final_T[p] : 1.f;
    const float vr = inside ? v_rgb[3 * p] : 0.f, vg = inside ? v_rgb[3 * p + 1] : 0.f,
                vb = inside ? v_rgb[3 * p + 2] : 0.f;
    const float va = inside ? v_alpha[p] : 0.f, vd = inside ? v_depth[p] : 0.f;
    const float bg0 = a.background ? a.background[0] : 0.f, bg1 = a.background ? a.background[1] : 0.f,
                bg2 = a.background ? a.background[2] : 0.f;
    const float v_Tfinal = vr * bg0 + vg * bg1 + vb * bg2 - va;
    float Tr = T_final;
    float accR = 0.f, accG = 0.f, accB = 0.f, accD = 0.f;
    float lastA = 0.f, lastR = 0.f, lastG = 0.f, lastB = 0.f, lastD = 0.f;

    // only walk as far back as the block's furthest contributor
    __shared__ int32_t max_last;
    if (tid == 0) max_last = 0;
    __syncthreads();
    atomicMax(&max_last, last);
    __syncthreads();
    const int64_t stop = start + max_last;

    for (int64_t top = stop; top > start; top -= BLOCK) {
        const int n = (int)min((int64_t)BLOCK, top - start);
        __syncthreads();
        if (tid < n) load_gaussian(a, a.isect_ids[top - 1 - tid], sh[tid]);  // sh[j]: back to front
        __syncthreads();
        for (int j = 0; j < n; ++j) {
            const GaussShared& s = sh[j];
            const int64_t local = top - 1 - j - start;  // index within the tile's list
            bool contrib = inside && local < last;
            float Gv = 0.f, alpha = 0.f, power = 0.f;
            const float dx = fx - s.mx, dy = fy - s.my;
            if (contrib) {
                power = -0.5f * (s.ca * dx * dx + s.cc * dy * dy) - s.cb * dx * dy;
                Gv = expf(power);
                alpha = fminf(ALPHA_MAX, s.op * Gv);
                contrib = power <= 0.f && alpha >= ALPHA_MIN;
            }
            float g[10] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
            if (contrib) {
                const float om = 1.f - alpha;
                Tr = Tr / om;
                const float w = alpha * Tr;
                g[5] = w * vr;
                g[6] = w * vg;
                g[7] = w * vb;
                g[8] = w * vd;
                accR = lastA * lastR + (1.f - lastA) * accR;
                accG = lastA * lastG + (1.f - lastA) * accG;
                accB = lastA * lastB + (1.f - lastA) * accB;
                accD = lastA * lastD + (1.f - lastA) * accD;
                lastA = alpha;
                lastR = s.r;
                lastG = s.g;
                lastB = s.b;
                lastD = s.z;
                float v_al = Tr * ((s.r - accR) * vr + (s.g - accG) * vg + (s.b - accB) * vb + (s.z - accD) * vd);
                v_al += -T_final / om * v_Tfinal;
                const float con[3] = {s.ca, s.cb, s.cc};
                float vm2[2] = {0.f, 0.f}, vcon[3] = {0.f, 0.f, 0.f}, vop = 0.f;
                alpha_vjp(con, s.op, dx, dy, Gv, v_al, vm2, vcon, vop);
                g[0] = vm2[0];
                g[1] = vm2[1];
                g[2] = vcon[0];
                g[3] = vcon[1];
                g[4] = vcon[2];
                g[9] = vop;
            }
            if (!__any_sync(0xffffffffu, contrib)) continue;
            // one thread is one pixel: the absolute value is taken per pixel, before the sum
            const float abs_x = v_means2d_abs ? warp_sum(fabsf(g[0])) : 0.f;
            const float abs_y = v_means2d_abs ? warp_sum(fabsf(g[1])) : 0.f;
#pragma unroll
            for (int q = 0; q < 10; ++q) g[q] = warp_sum(g[q]);
            if (lane == 0) {
                const int64_t gi = s.id;
                atomicAdd(v_means2d + 2 * gi, g[0]);
                atomicAdd(v_means2d + 2 * gi + 1, g[1]);
                atomicAdd(v_conics + 3 * gi, g[2]);
                atomicAdd(v_conics + 3 * gi + 1, g[3]);
                atomicAdd(v_conics + 3 * gi + 2, g[4]);
                atomicAdd(v_colors + 3 * gi, g[5]);
                atomicAdd(v_colors + 3 * gi + 1, g[6]);
                atomicAdd(v_colors + 3 * gi + 2, g[7]);
                atomicAdd(v_depths + gi, g[8]);
                atomicAdd(v_opacities + gi, g[9]);
                if (v_means2d_abs) {
                    atomicAdd(v_means2d_abs + 2 * gi, abs_x);
                    atomicAdd(v_means2d_abs + 2 * gi + 1, abs_y);
                }
            }
        }
    }
}

}  // namespace

void raster_forward_cuda(const RasterArgs& a, float* out_rgb, float* out_alpha, float* out_depth, float* final_T,
                         int32_t* n_contrib, void* stream) {
    const dim3 grid((a.width + TILE - 1) / TILE, (a.height + TILE - 1) / TILE), block(TILE, TILE);
    raster_fwd_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(a, out_rgb, out_alpha, out_depth, final_T, n_contrib);
    check_launch("raster_fwd_kernel");
}

void raster_backward_cuda(const RasterArgs& a, int64_t N, const float* final_T, const int32_t* n_contrib,
                          const float* v_rgb, const float* v_alpha, const float* v_depth, float* v_means2d,
                          float* v_conics, float* v_colors, float* v_opacities, float* v_depths, float* v_means2d_abs,
                          void* stream) {
    (void)N;
    const dim3 grid((a.width + TILE - 1) / TILE, (a.height + TILE - 1) / TILE), block(TILE, TILE);
    raster_bwd_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(a, final_T, n_contrib, v_rgb, v_alpha, v_depth,
                                                                v_means2d, v_conics, v_colors, v_opacities, v_depths,
                                                                v_means2d_abs);
    check_launch("raster_bwd_kernel");
}

}  // namespace gs
