// CPU projection and spherical-harmonic colour: one OpenMP loop over Gaussians each,
// calling the shared per-Gaussian bodies. Each output element is written by one
// iteration, so results are deterministic.
#include "../gaussian_math.h"
#include "../kernels.h"

namespace gs {

void project_forward_cpu(int64_t N, const float* means, const float* quats, const float* scales, const float* opacities,
                         const float* viewmat, const float* K, int width, int height, float* means2d, float* conics,
                         float* depths, int32_t* radii, int32_t* rects) {
    const Cam cam = make_cam(viewmat, K);
#pragma omp parallel for schedule(static) if (N > 32768)
    for (int64_t i = 0; i < N; ++i)
        project_forward_one(i, means, quats, scales, opacities, cam, width, height, means2d, conics, depths, radii,
                            rects);
}

void project_backward_cpu(int64_t N, const float* means, const float* quats, const float* scales, const float* viewmat,
                          const float* K, const int32_t* radii, const float* v_means2d, const float* v_conics,
                          const float* v_depths, float* v_means, float* v_quats, float* v_scales) {
    const Cam cam = make_cam(viewmat, K);
#pragma omp parallel for schedule(static) if (N > 32768)
    for (int64_t i = 0; i < N; ++i)
        project_backward_one(i, means, quats, scales, cam, radii, v_means2d, v_conics, v_depths, v_means, v_quats,
                             v_scales);
}

void sh_forward_cpu(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                    const int32_t* radii, float* colors, uint8_t* clamped) {
    float campos[3];
    campos_of(viewmat, campos);
#pragma omp parallel for schedule(static) if (N > 32768)
    for (int64_t i = 0; i < N; ++i) sh_forward_one(i, deg, Kc, coeffs, means, campos, radii, colors, clamped);
}

void sh_backward_cpu(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                     const int32_t* radii, const uint8_t* clamped, const float* v_colors, float* v_coeffs,
                     float* v_means) {
    float campos[3];
    campos_of(viewmat, campos);
#pragma omp parallel for schedule(static) if (N > 32768)
    for (int64_t i = 0; i < N; ++i)
        sh_backward_one(i, deg, Kc, coeffs, means, campos, radii, clamped, v_colors, v_coeffs, v_means);
}

}  // namespace gs
