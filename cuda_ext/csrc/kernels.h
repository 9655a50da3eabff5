// Launcher declarations shared by the CPU (.cpp) and CUDA (.cu) kernels. Plain
// pointers only, no torch: the bindings own allocation and checking.
//
// Array layouts (all float32 unless noted, row-major, N Gaussians, M intersections):
//   means [N,3], quats [N,4] (w,x,y,z), scales [N,3], opacities [N]
//   viewmat [4,4] world-to-camera (OpenCV axes), K [3,3]
//   means2d [N,2] pixels, conics [N,3], depths [N], radii [N] int32, rects [N,4] int32 tiles
//   coeffs [N,Kc,3] SH, colors [N,3]
//   tile_offsets [T+1] int64, isect_ids [M] int32 (Gaussian index per intersection)
//   images: rgb [H,W,3], alpha [H,W], depth [H,W], final_T [H,W], n_contrib [H,W] int32
#pragma once
#include <stdint.h>

namespace gs {

struct RasterArgs {
    const float* means2d;
    const float* conics;
    const float* colors;
    const float* opacities;
    const float* depths;
    const float* background;  // [3] or nullptr
    const int64_t* tile_offsets;
    const int32_t* isect_ids;
    int width, height;
};

// ---------------------------------------------------------------- CPU
void project_forward_cpu(int64_t N, const float* means, const float* quats, const float* scales, const float* opacities,
                         const float* viewmat, const float* K, int width, int height, float* means2d, float* conics,
                         float* depths, int32_t* radii, int32_t* rects);
void project_backward_cpu(int64_t N, const float* means, const float* quats, const float* scales, const float* viewmat,
                          const float* K, const int32_t* radii, const float* v_means2d, const float* v_conics,
                          const float* v_depths, float* v_means, float* v_quats, float* v_scales);
void sh_forward_cpu(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                    const int32_t* radii, float* colors, uint8_t* clamped);
void sh_backward_cpu(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                     const int32_t* radii, const uint8_t* clamped, const float* v_colors, float* v_coeffs,
                     float* v_means);
// fills tile_offsets [T+1]; returns M
int64_t bin_count_cpu(int64_t N, const int32_t* radii, const int32_t* rects, int tiles_x, int tiles_y,
                      int64_t* tile_offsets);
// fills isect_ids [M]: per tile, Gaussians by increasing (depth, index)
void bin_fill_cpu(int64_t N, const int32_t* radii, const int32_t* rects, const float* depths, int tiles_x, int tiles_y,
                  const int64_t* tile_offsets, int32_t* isect_ids);
void raster_forward_cpu(const RasterArgs& a, float* out_rgb, float* out_alpha, float* out_depth, float* final_T,
                        int32_t* n_contrib);
// instruction set of the CPU tile kernels in use: "avx512", "avx2" or "base" (GS_CPU_ISA caps it)
const char* cpu_tile_kernels_isa();
// v_* outputs [N,...] must be zero-filled by the caller. v_means2d_abs [N,2] (or null): the sum over
// pixels of each pixel's |d loss / d mean2d|, per axis, a densification signal that opposing
// gradients across a Gaussian's footprint do not cancel.
void raster_backward_cpu(const RasterArgs& a, int64_t N, const float* final_T, const int32_t* n_contrib,
                         const float* v_rgb, const float* v_alpha, const float* v_depth, float* v_means2d,
                         float* v_conics, float* v_colors, float* v_opacities, float* v_depths, float* v_means2d_abs);
// SSIM of img and ref [H,W,C] (11-tap Gaussian window, sigma 1.5, zero padding; CPU only, CUDA
// tensors use torch): returns the mean over pixels and channels and fills partials [3,H,W,C], what
// ssim_backward_cpu needs. v_img [H,W,C] = grad * d mean / d img.
double ssim_forward_cpu(int H, int W, int C, const float* img, const float* ref, float* partials);
void ssim_backward_cpu(int H, int W, int C, const float* img, const float* ref, const float* partials, float grad,
                       float* v_img);

// ---------------------------------------------------------------- CUDA (same contracts)
// `stream` is a cudaStream_t passed as void* so this header stays CUDA-free.
void project_forward_cuda(int64_t N, const float* means, const float* quats, const float* scales,
                          const float* opacities, const float* viewmat, const float* K, int width, int height,
                          float* means2d, float* conics, float* depths, int32_t* radii, int32_t* rects, void* stream);
void project_backward_cuda(int64_t N, const float* means, const float* quats, const float* scales, const float* viewmat,
                           const float* K, const int32_t* radii, const float* v_means2d, const float* v_conics,
                           const float* v_depths, float* v_means, float* v_quats, float* v_scales, void* stream);
void sh_forward_cuda(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                     const int32_t* radii, float* colors, uint8_t* clamped, void* stream);
void sh_backward_cuda(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                      const int32_t* radii, const uint8_t* clamped, const float* v_colors, float* v_coeffs,
                      float* v_means, void* stream);
// per-Gaussian intersection counts -> inclusive prefix sum in isect_cum [N] (int64); returns M
// (synchronises once to read M). temp: scratch from bin_temp_bytes_cuda.
size_t bin_temp_bytes_cuda(int64_t N, int64_t M, int tiles_x, int tiles_y);
int64_t bin_count_cuda(int64_t N, const int32_t* radii, const int32_t* rects, int64_t* isect_cum, void* temp,
                       size_t temp_bytes, void* stream);
// writes keys (tile << 32 | depth bits) and ids, radix-sorts them, and fills tile_offsets [T+1].
// keys_a/keys_b [M] uint64 and ids_a/ids_b [M] int32 are double buffers; sorted ids end in isect_ids.
void bin_fill_cuda(int64_t N, int64_t M, const int32_t* radii, const int32_t* rects, const float* depths,
                   const int64_t* isect_cum, int tiles_x, int tiles_y, uint64_t* keys_a, uint64_t* keys_b,
                   int32_t* ids_a, int32_t* ids_b, void* temp, size_t temp_bytes, int64_t* tile_offsets,
                   int32_t* isect_ids, void* stream);
void raster_forward_cuda(const RasterArgs& a, float* out_rgb, float* out_alpha, float* out_depth, float* final_T,
                         int32_t* n_contrib, void* stream);
void raster_backward_cuda(const RasterArgs& a, int64_t N, const float* final_T, const int32_t* n_contrib,
                          const float* v_rgb, const float* v_alpha, const float* v_depth, float* v_means2d,
                          float* v_conics, float* v_colors, float* v_opacities, float* v_depths, float* v_means2d_abs,
                          void* stream);

}  // namespace gs
