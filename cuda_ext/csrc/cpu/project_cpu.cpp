// CPU projection and spherical-harmonic colour: one OpenMP loop over Gaussians each.
// Every output element is written by exactly one iteration, so results are deterministic.
#include "../gaussian_math.h"
#include "../kernels.h"

namespace gs {

void project_forward_cpu(int64_t N, const float* means, const float* quats, const float* scales,
                         const float* opacities, const float* viewmat, const float* K, int width, int height,
                         float* means2d, float* conics, float* depths, int32_t* radii, int32_t* rects) {
    const Cam cam = make_cam(viewmat, K);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; ++i) {
        Projected pr;
        float rx = 0.f, ry = 0.f;
        int rect[4] = {0, 0, 0, 0};
        bool ok = project_gaussian(means + 3 * i, quats + 4 * i, scales + 3 * i, cam, pr) &&
                  footprint(pr.cov2d, opacities[i], rx, ry) &&
                  tile_rect(pr.mean2d, rx, ry, width, height, rect);
        if (!ok) {
            radii[i] = 0;
            for (int k = 0; k < 4; ++k) rects[4 * i + k] = 0;
            means2d[2 * i] = means2d[2 * i + 1] = 0.f;
            conics[3 * i] = conics[3 * i + 1] = conics[3 * i + 2] = 0.f;
            depths[i] = 0.f;
            continue;
        }
        const float r = ceilf(fmaxf(rx, ry));
        radii[i] = r > 1e9f ? 1000000000 : (int32_t)r;
        for (int k = 0; k < 4; ++k) rects[4 * i + k] = rect[k];
        means2d[2 * i] = pr.mean2d[0];
        means2d[2 * i + 1] = pr.mean2d[1];
        for (int k = 0; k < 3; ++k) conics[3 * i + k] = pr.conic[k];
        depths[i] = pr.p[2];
    }
}

void project_backward_cpu(int64_t N, const float* means, const float* quats, const float* scales,
                          const float* viewmat, const float* K, const int32_t* radii, const float* v_means2d,
                          const float* v_conics, const float* v_depths, float* v_means, float* v_quats,
                          float* v_scales) {
    const Cam cam = make_cam(viewmat, K);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; ++i) {
        float vm[3] = {0.f, 0.f, 0.f}, vq[4] = {0.f, 0.f, 0.f, 0.f}, vs[3] = {0.f, 0.f, 0.f};
        Projected pr;
        if (radii[i] > 0 && project_gaussian(means + 3 * i, quats + 4 * i, scales + 3 * i, cam, pr)) {
            project_gaussian_vjp(scales + 3 * i, cam, pr, v_means2d + 2 * i, v_conics + 3 * i,
                                 v_depths ? v_depths[i] : 0.f, vm, vq, vs);
        }
        for (int k = 0; k < 3; ++k) v_means[3 * i + k] = vm[k];
        for (int k = 0; k < 4; ++k) v_quats[4 * i + k] = vq[k];
        for (int k = 0; k < 3; ++k) v_scales[3 * i + k] = vs[k];
    }
}

void sh_forward_cpu(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                    const int32_t* radii, float* colors, uint8_t* clamped) {
    const float Kdummy[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const Cam cam = make_cam(viewmat, Kdummy);
    float campos[3];
    cam_center(cam, campos);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; ++i) {
        if (radii[i] <= 0) {
            colors[3 * i] = colors[3 * i + 1] = colors[3 * i + 2] = 0.f;
            clamped[i] = 0;
            continue;
        }
        sh_to_color(deg, Kc, coeffs + (int64_t)Kc * 3 * i, means + 3 * i, campos, colors + 3 * i, clamped[i]);
    }
}

void sh_backward_cpu(int64_t N, int deg, int Kc, const float* coeffs, const float* means, const float* viewmat,
                     const int32_t* radii, const uint8_t* clamped, const float* v_colors, float* v_coeffs,
                     float* v_means) {
    const float Kdummy[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    const Cam cam = make_cam(viewmat, Kdummy);
    float campos[3];
    cam_center(cam, campos);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; ++i) {
        float* vc = v_coeffs + (int64_t)Kc * 3 * i;
        float vm[3] = {0.f, 0.f, 0.f};
        if (radii[i] <= 0) {
            for (int k = 0; k < Kc * 3; ++k) vc[k] = 0.f;
        } else {
            sh_to_color_vjp(deg, Kc, coeffs + (int64_t)Kc * 3 * i, means + 3 * i, campos, clamped[i],
                            v_colors + 3 * i, vc, vm);
        }
        for (int k = 0; k < 3; ++k) v_means[3 * i + k] = vm[k];
    }
}

}  // namespace gs
