// CPU tile rasterizer, forward and backward. OpenMP over 16x16 tiles; each tile copies
// its depth-sorted Gaussians into thread-local structure-of-arrays buffers, and pixels
// are processed a block at a time (8x8 in the forward, 4x4 in the backward and in the
// baseline version) with portable vector extensions, each lane doing exactly the scalar
// algorithm. Backward accumulates per-lane
// gradients per tile, reduces the lanes in a fixed order into a per-intersection buffer,
// and sums that per Gaussian in intersection order: bit-for-bit deterministic for any
// thread count.
//
// Work is bounded by what contributes: the forward copies a tile's Gaussians in chunks,
// only as far as its pixels get before they saturate; the backward copies, clears and
// reduces only the front of each tile's list that some pixel of the tile blended.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../gaussian_math.h"
#include "../kernels.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>  // mask tests in the AVX2 / AVX-512 kernels
#endif
#if defined(__GNUC__) && !defined(__clang__)
// No fused multiply-adds (where the target has them, e.g. AVX-512 or ARM): the forward and
// backward passes must round the same expressions the same way.
#pragma GCC optimize("fp-contract=off")
#endif

namespace gs {

namespace {

// A tile's Gaussians as structure of arrays, copied on demand: load(j1) makes entries
// [0, j1) valid. Storage grows only, so pointers stay valid within a tile.
struct TileSoA {
    enum { MX, MY, CA, CB, CC, OP, LT, R, G, B, Z, NF };
    std::vector<float> store;
    float* f[NF] = {};
    int64_t cap = 0, loaded = 0, start = 0, n = 0;

    void begin(int64_t start_, int64_t n_) {
        start = start_;
        n = n_;
        loaded = 0;
        if (n > cap) {
            cap = std::max<int64_t>(n, 2 * cap);
            store.resize((size_t)(cap * NF));
        }
        for (int q = 0; q < NF; ++q) f[q] = store.data() + q * cap;
    }
    void load(const RasterArgs& a, int64_t j1) {
        j1 = std::min(j1, n);
        for (int64_t j = loaded; j < j1; ++j) {
            const int64_t gi = a.isect_ids[start + j];
            f[MX][j] = a.means2d[2 * gi];
            f[MY][j] = a.means2d[2 * gi + 1];
            f[CA][j] = a.conics[3 * gi];
            f[CB][j] = a.conics[3 * gi + 1];
            f[CC][j] = a.conics[3 * gi + 2];
            f[OP][j] = a.opacities[gi];
            // below this power alpha < 1/255 for sure (margin far above float error)
            f[LT][j] = -logf(255.f * f[OP][j]) - 1e-3f;
            f[R][j] = a.colors[3 * gi];
            f[G][j] = a.colors[3 * gi + 1];
            f[B][j] = a.colors[3 * gi + 2];
            f[Z][j] = a.depths[gi];
        }
        if (j1 > loaded) loaded = j1;
    }
};

constexpr int64_t CHUNK = 64;  // Gaussians copied at a time in the forward pass

struct TileGeom {
    int x0, y0, x1, y1;
};

inline TileGeom tile_geom(int64_t t, int W, int H) {
    const int tx_n = (W + TILE - 1) / TILE;
    TileGeom g;
    g.x0 = (int)(t % tx_n) * TILE;
    g.y0 = (int)(t / tx_n) * TILE;
    g.x1 = std::min(g.x0 + TILE, W);
    g.y1 = std::min(g.y0 + TILE, H);
    return g;
}

constexpr int NG = 10;  // gradient slots per intersection: mean2d 2, conic 3, rgb 3, depth, opacity
constexpr int NG_ABS = NG + 2;  // and the per-pixel |gradient| of mean2d, when asked for

// The vector kernels, compiled once per instruction set; the backward blends 4x4-pixel
// blocks as one 16-lane vector (lane k is pixel (k % BW, k / BW) of the block). AVX-512
// holds it in one register; the AVX2 and baseline versions use 2 or 4 parts of 8 or 4
// lanes. On x86-64
// with GCC the widest version the CPU runs is picked at run time (the build may be
// shared, so no -march=native). All do the same float operations in the same order, with
// contraction into fused multiply-adds off, so they give identical results, deterministic
// across runs and thread counts.
namespace base {
constexpr int BW = 4, BH = 4, L = 16, HL = 4;  // 16-byte parts: SSE2 or NEON registers
#include "raster_isa_kernels.h"
}  // namespace base

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define GS_HAVE_AVX2_KERNELS 1
#define GS_ANY_AVX2
namespace avx2 {
constexpr int BW = 4, BH = 4, L = 16, HL = 8;
#include "raster_isa_kernels.h"
}  // namespace avx2
// The forward pass gives the same image for any block shape, and its cost per Gaussian
// and block (loads, broadcasts, one branch) pays off over more pixels: it blends 8x8
// blocks where the vector units are wide enough. (The backward keeps 4x4 blocks: its
// per-Gaussian scratch grows with the block, and its sums, hence its last bits, depend on it.)
namespace avx2_fwd {
constexpr int BW = 8, BH = 8, L = 64, HL = 8;
#include "raster_isa_kernels.h"
}  // namespace avx2_fwd
#undef GS_ANY_AVX2
#define GS_ANY_AVX512
namespace avx512_fwd {
constexpr int BW = 8, BH = 8, L = 64, HL = 16;
#include "raster_isa_kernels.h"
}  // namespace avx512_fwd
#define GS_NATIVE_LANES
namespace avx512 {
constexpr int BW = 4, BH = 4, L = 16;
#include "raster_isa_kernels.h"
}  // namespace avx512
#undef GS_NATIVE_LANES
#undef GS_ANY_AVX512
#endif

struct TileKernels {
    decltype(&base::forward_tile) forward;
    decltype(&base::backward_tile) backward;
    decltype(&base::sum_lanes) sum_lanes;
    int lanes;
    const char* isa;
};

// The widest kernels the CPU runs; the environment variable GS_CPU_ISA (avx512, avx2 or
// base) caps the choice, e.g. to compare versions.
const TileKernels& tile_kernels() {
    static const TileKernels k = [] {
        const char* cap_env = getenv("GS_CPU_ISA");
        const std::string cap = cap_env ? cap_env : "avx512";
        (void)cap;
#ifdef GS_HAVE_AVX2_KERNELS
        if (cap == "avx512" && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
            return TileKernels{avx512_fwd::forward_tile, avx512::backward_tile, avx512::sum_lanes, avx512::L, "avx512"};
        if ((cap == "avx512" || cap == "avx2") && __builtin_cpu_supports("avx2"))
            return TileKernels{avx2_fwd::forward_tile, avx2::backward_tile, avx2::sum_lanes, avx2::L, "avx2"};
#endif
        return TileKernels{base::forward_tile, base::backward_tile, base::sum_lanes, base::L, "base"};
    }();
    return k;
}

}  // namespace

const char* cpu_tile_kernels_isa() { return tile_kernels().isa; }

void raster_forward_cpu(const RasterArgs& a, float* out_rgb, float* out_alpha, float* out_depth, float* final_T,
                        int32_t* n_contrib) {
    const int W = a.width, H = a.height;
    const int64_t T = (int64_t)((W + TILE - 1) / TILE) * ((H + TILE - 1) / TILE);
    const float bg[3] = {a.background ? a.background[0] : 0.f, a.background ? a.background[1] : 0.f,
                         a.background ? a.background[2] : 0.f};
    const TileKernels& kern = tile_kernels();
#pragma omp parallel
    {
        TileSoA s;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < T; ++t) {
            const int64_t start = a.tile_offsets[t], n = a.tile_offsets[t + 1] - start;
            s.begin(start, n);
            kern.forward(s, a, tile_geom(t, W, H), W, bg, out_rgb, out_alpha, out_depth, final_T, n_contrib);
        }
    }
}

void raster_backward_cpu(const RasterArgs& a, int64_t N, const float* final_T, const int32_t* n_contrib,
                         const float* v_rgb, const float* v_alpha, const float* v_depth, float* v_means2d,
                         float* v_conics, float* v_colors, float* v_opacities, float* v_depths, float* v_means2d_abs) {
    const int W = a.width, H = a.height;
    const int64_t T = (int64_t)((W + TILE - 1) / TILE) * ((H + TILE - 1) / TILE);
    const float bg[3] = {a.background ? a.background[0] : 0.f, a.background ? a.background[1] : 0.f,
                         a.background ? a.background[2] : 0.f};
    // used[t]: how far into tile t's list any pixel blended (the rest gets no gradient);
    // the gradient buffer holds only those intersections, tile after tile.
    std::vector<int64_t> used(T), offset(T + 1);
    offset[0] = 0;
    for (int64_t t = 0; t < T; ++t) {
        const TileGeom tg = tile_geom(t, W, H);
        int32_t m = 0;
        for (int y = tg.y0; y < tg.y1; ++y)
            for (int x = tg.x0; x < tg.x1; ++x) m = std::max(m, n_contrib[(int64_t)y * W + x]);
        used[t] = std::min<int64_t>(m, a.tile_offsets[t + 1] - a.tile_offsets[t]);
        offset[t + 1] = offset[t] + used[t];
    }
    const TileKernels& kern = tile_kernels();
    const int ng = v_means2d_abs ? NG_ABS : NG;
    std::unique_ptr<float[]> buf(new float[(size_t)(offset[T] * ng) + 1]);  // every entry is written below
#pragma omp parallel
    {
        TileSoA s;
        std::vector<float> acc_store;  // vectors in a template argument lose their alignment: align by hand
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < T; ++t) {
            const int64_t n = used[t];
            if (n == 0) continue;
            s.begin(a.tile_offsets[t], n);
            s.load(a, n);
            const int L = kern.lanes, VBYTES = 4 * kern.lanes;
            if (acc_store.size() < (size_t)(n * ng * L + L)) acc_store.resize((size_t)(n * ng * L + L));
            const uintptr_t addr = reinterpret_cast<uintptr_t>(acc_store.data());
            void* acc = reinterpret_cast<void*>((addr + VBYTES - 1) / VBYTES * VBYTES);
            std::memset(acc, 0, (size_t)(n * ng) * VBYTES);
            kern.backward(s, tile_geom(t, W, H), W, bg, final_T, n_contrib, v_rgb, v_alpha, v_depth, acc, ng);
            kern.sum_lanes(acc, n * ng, buf.get() + offset[t] * ng);
        }
    }
    // fixed-order reduction per Gaussian (intersection order)
    for (int64_t t = 0; t < T; ++t) {
        const int64_t start = a.tile_offsets[t];
        for (int64_t k = 0; k < used[t]; ++k) {
            const int64_t gi = a.isect_ids[start + k];
            const float* gk = buf.get() + (offset[t] + k) * ng;
            v_means2d[2 * gi] += gk[0];
            v_means2d[2 * gi + 1] += gk[1];
            v_conics[3 * gi] += gk[2];
            v_conics[3 * gi + 1] += gk[3];
            v_conics[3 * gi + 2] += gk[4];
            v_colors[3 * gi] += gk[5];
            v_colors[3 * gi + 1] += gk[6];
            v_colors[3 * gi + 2] += gk[7];
            v_depths[gi] += gk[8];
            v_opacities[gi] += gk[9];
            if (v_means2d_abs) {
                v_means2d_abs[2 * gi] += gk[NG];
                v_means2d_abs[2 * gi + 1] += gk[NG + 1];
            }
        }
    }
    (void)N;
}

}  // namespace gs
