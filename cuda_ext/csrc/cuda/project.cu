// CUDA projection and SH colour: one thread per Gaussian, same bodies as the CPU loops.
#include <cuda_runtime.h>

#include "../gaussian_math.h"
#include "../kernels.h"
#include "cuda_check.cuh"

namespace gs {
namespace {

constexpr int BLOCK = 256;
inline unsigned grid_for(int64_t n) { return (unsigned)((n + BLOCK - 1) / BLOCK); }

__global__ void project_fwd_kernel(int64_t N, const float* means, const float* quats, const float* scales,
                                   const float* opacities, const float* viewmat, const float* K, int width, int height,
                                   float* means2d, float* conics, float* depths, int32_t* radii, int32_t* rects) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const Cam cam = make_cam(viewmat, K);
    project_forward_one(i, means, quats, scales, opacities, cam, width, height, means2d, conics, depths, radii, rects);
}

__global__ void project_bwd_kernel(int64_t N, const float* means, const float* quats, const float* scales,
                                   const float* viewmat, const float* K, const int32_t* radii, const float* v_means2d,
                                   const float* v_conics, const float* v_depths, float* v_means, float* v_quats,
                                   float* v_scales) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const Cam cam = make_cam(viewmat, K);
    project_backward_one(i, means, quats, scales, cam, radii, v_means2d, v_conics, v_depths, v_means, v_quats,
                         v_scales);
}

__global__ void sh_fwd_kernel(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                              const int32_t* radii, float* colors, uint8_t* clamped) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    float campos[3];
    campos_of(viewmat, campos);
    sh_forward_one(i, deg, Kc, coeffs, means, campos, radii, colors, clamped);
}

__global__ void sh_bwd_kernel(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                              const int32_t* radii, const uint8_t* clamped, const float* v_colors, float* v_coeffs,
                              float* v_means) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    float campos[3];
    campos_of(viewmat, campos);
    sh_backward_one(i, deg, Kc, coeffs, means, campos, radii, clamped, v_colors, v_coeffs, v_means);
}

}  // namespace

void project_forward_cuda(int64_t N, const float* means, const float* quats, const float* scales,
                          const float* opacities, const float* viewmat, const float* K, int width, int height,
                          float* means2d, float* conics, float* depths, int32_t* radii, int32_t* rects, void* stream) {
    if (N == 0) return;
    project_fwd_kernel<<<grid_for(N), BLOCK, 0, (cudaStream_t)stream>>>(
        N, means, quats, scales, opacities, viewmat, K, width, height, means2d, conics, depths, radii, rects);
    check_launch("project_fwd_kernel");
}

void project_backward_cuda(int64_t N, const float* means, const float* quats, const float* scales, const float* viewmat,
                           const float* K, const int32_t* radii, const float* v_means2d, const float* v_conics,
                           const float* v_depths, float* v_means, float* v_quats, float* v_scales, void* stream) {
    if (N == 0) return;
    project_bwd_kernel<<<grid_for(N), BLOCK, 0, (cudaStream_t)stream>>>(
        N, means, quats, scales, viewmat, K, radii, v_means2d, v_conics, v_depths, v_means, v_quats, v_scales);
    check_launch("project_bwd_kernel");
}

void sh_forward_cuda(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                     const int32_t* radii, float* colors, uint8_t* clamped, void* stream) {
    if (N == 0) return;
    sh_fwd_kernel<<<grid_for(N), BLOCK, 0, (cudaStream_t)stream>>>(N, deg, Kc, coeffs, means, viewmat, radii, colors,
                                                                   clamped);
    check_launch("sh_fwd_kernel");
}

void sh_backward_cuda(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                      const int32_t* radii, const uint8_t* clamped, const float* v_colors, float* v_coeffs,
                      float* v_means, void* stream) {
    if (N == 0) return;
    sh_bwd_kernel<<<grid_for(N), BLOCK, 0, (cudaStream_t)stream>>>(N, deg, Kc, coeffs, means, viewmat, radii, clamped,
                                                                   v_colors, v_coeffs, v_means);
    check_launch("sh_bwd_kernel");
}

}  // namespace gs
