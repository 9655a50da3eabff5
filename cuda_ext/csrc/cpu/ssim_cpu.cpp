// Fused SSIM of two images [H,W,C] on the CPU: the loss's structural term (trainer/losses.py)
// without the five grouped convolutions and the dozen full-size temporaries torch makes.
//
// The blur is the separable 11-tap Gaussian (sigma 1.5) with zero padding, same size. Each thread
// walks a band of rows: every input row is blurred horizontally once into a ring of the last 11
// rows (all statistics of a row stay in cache), and each output row is the vertical blur of the
// ring. Rows are laid out as in the tensors, W*C floats with the channels interleaved, so every
// inner loop is contiguous and the taps are offsets of C.
//
// Forward, per pixel (mu = blur(x), E_xx = blur(x^2), E_xy = blur(xy), ...):
//   A = 2 mu_x mu_y + C1, B = 2 (E_xy - mu_x mu_y) + C2, Cc = mu_x^2 + mu_y^2 + C1,
//   D = (E_xx - mu_x^2) + (E_yy - mu_y^2) + C2, S = A B / (Cc D), result = mean S,
// and the partials of S / (H W C) with respect to mu_x, E_xx and E_xy (mu_y and E_yy do not
// depend on x):
//   dS/dmu_x = (2 mu_y (B - A) - 2 mu_x S (D - Cc)) / (Cc D), dS/dE_xx = -S / D, dS/dE_xy = 2 A / (Cc D).
// Backward: the blur's adjoint is itself (symmetric kernel, zero padding), so
//   dL/dx = g (blur(dS/dmu_x) + 2 x blur(dS/dE_xx) + y blur(dS/dE_xy)).
// Every pixel's arithmetic is the same whatever the bands and threads, and the mean is summed in a
// fixed order: results do not depend on the number of threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../kernels.h"

namespace gs {
namespace {

constexpr int KS = 11, R = KS / 2;  // window of trainer/losses.py
constexpr float C1 = 0.01f * 0.01f, C2 = 0.03f * 0.03f;
constexpr int BAND = 32;  // rows per task: the ring's 10 extra rows are redone once per band

struct Window {
    float g[KS];
    Window() {
        double w[KS], sum = 0.0;
        for (int k = 0; k < KS; ++k) sum += w[k] = std::exp(-double((k - R) * (k - R)) / (2.0 * 1.5 * 1.5));
        for (int k = 0; k < KS; ++k) g[k] = float(w[k] / sum);
    }
};

// out[j] = sum_k g[k] in[j + k*C], j < L: in is a row with R*C zeros on each side.
inline void blur_h(const float* __restrict in, float* __restrict out, int64_t L, int C, const float* g) {
#pragma omp simd
    for (int64_t j = 0; j < L; ++j) {
        float acc = 0.f;
        for (int k = 0; k < KS; ++k) acc += g[k] * in[j + (int64_t)k * C];
        out[j] = acc;
    }
}

// out[j] = sum_k g[k] rows[k][j]
inline void blur_v(const float* const* rows, float* __restrict out, int64_t L, const float* g) {
    const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3], *r4 = rows[4], *r5 = rows[5];
    const float *r6 = rows[6], *r7 = rows[7], *r8 = rows[8], *r9 = rows[9], *r10 = rows[10];
#pragma omp simd
    for (int64_t j = 0; j < L; ++j) {
        out[j] = g[0] * r0[j] + g[1] * r1[j] + g[2] * r2[j] + g[3] * r3[j] + g[4] * r4[j] + g[5] * r5[j] +
                 g[6] * r6[j] + g[7] * r7[j] + g[8] * r8[j] + g[9] * r9[j] + g[10] * r10[j];
    }
}

// Blurs NS row statistics over rows [h0, h1): fill(r, rows) writes row r's statistics into rows[s]
// [W*C] (padded buffers); emit(h, blurred) receives output row h's NS blurred rows.
template <int NS, class Fill, class Emit>
void blur_band(int H, int W, int C, int h0, int h1, const Window& win, Fill fill, Emit emit) {
    const int64_t L = (int64_t)W * C, P = L + 2 * R * C;
    std::vector<float> padded(NS * P, 0.f), ring(NS * KS * L), vert(NS * L);
    auto slot = [&](int r) { return ((r % KS) + KS) % KS; };
    auto hrow = [&](int r) {
        float* dst = ring.data() + (int64_t)slot(r) * NS * L;
        if (r < 0 || r >= H) {
            std::memset(dst, 0, sizeof(float) * NS * L);
            return;
        }
        float* rows[NS];
        for (int s = 0; s < NS; ++s) rows[s] = padded.data() + s * P + R * C;
        fill(r, rows);
        for (int s = 0; s < NS; ++s) blur_h(padded.data() + s * P, dst + s * L, L, C, win.g);
    };
    for (int r = h0 - R; r < h0 + R; ++r) hrow(r);
    for (int h = h0; h < h1; ++h) {
        hrow(h + R);
        const float* blurred[NS];
        for (int s = 0; s < NS; ++s) {
            const float* rows[KS];
            for (int k = 0; k < KS; ++k) rows[k] = ring.data() + ((int64_t)slot(h - R + k) * NS + s) * L;
            blur_v(rows, vert.data() + s * L, L, win.g);
            blurred[s] = vert.data() + s * L;
        }
        emit(h, blurred);
    }
}

const Window& window() {
    static const Window w;
    return w;
}

}  // namespace

double ssim_forward_cpu(int H, int W, int C, const float* img, const float* ref, float* partials) {
    const int64_t L = (int64_t)W * C, plane = (int64_t)H * L;
    const float inv_n = 1.0f / float(plane);
    const int bands = (H + BAND - 1) / BAND;
    std::vector<double> row_sum(H);
    const Window& win = window();
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < bands; ++b) {
        auto fill = [&](int r, float** rows) {
            const float* x = img + r * L;
            const float* y = ref + r * L;
            float *px = rows[0], *py = rows[1], *pxx = rows[2], *pyy = rows[3], *pxy = rows[4];
#pragma omp simd
            for (int64_t j = 0; j < L; ++j) {
                px[j] = x[j];
                py[j] = y[j];
                pxx[j] = x[j] * x[j];
                pyy[j] = y[j] * y[j];
                pxy[j] = x[j] * y[j];
            }
        };
        auto emit = [&](int h, const float* const* st) {
            const float *mx = st[0], *my = st[1], *exx = st[2], *eyy = st[3], *exy = st[4];
            float* d_mu = partials + h * L;
            float* d_exx = partials + plane + h * L;
            float* d_exy = partials + 2 * plane + h * L;
            double sum = 0.0;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < L; ++j) {
                const float mxy = mx[j] * my[j], mxx = mx[j] * mx[j], myy = my[j] * my[j];
                const float A = 2.f * mxy + C1, B = 2.f * (exy[j] - mxy) + C2;
                const float Cc = mxx + myy + C1, D = (exx[j] - mxx) + (eyy[j] - myy) + C2;
                const float inv_cd = 1.f / (Cc * D);
                const float S = A * B * inv_cd;
                sum += S;
                d_mu[j] = inv_n * (2.f * my[j] * (B - A) - 2.f * mx[j] * S * (D - Cc)) * inv_cd;
                d_exx[j] = -inv_n * S / D;
                d_exy[j] = inv_n * 2.f * A * inv_cd;
            }
            row_sum[h] = sum;
        };
        blur_band<5>(H, W, C, b * BAND, std::min(H, (b + 1) * BAND), win, fill, emit);
    }
    double total = 0.0;
    for (int h = 0; h < H; ++h) total += row_sum[h];
    return total / double(plane);
}

void ssim_backward_cpu(int H, int W, int C, const float* img, const float* ref, const float* partials, float grad,
                       float* v_img) {
    const int64_t L = (int64_t)W * C, plane = (int64_t)H * L;
    const int bands = (H + BAND - 1) / BAND;
    const Window& win = window();
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < bands; ++b) {
        auto fill = [&](int r, float** rows) {
            for (int s = 0; s < 3; ++s) std::memcpy(rows[s], partials + s * plane + r * L, sizeof(float) * L);
        };
        auto emit = [&](int h, const float* const* bl) {
            const float* x = img + h * L;
            const float* y = ref + h * L;
            float* out = v_img + h * L;
            const float *b_mu = bl[0], *b_xx = bl[1], *b_xy = bl[2];
#pragma omp simd
            for (int64_t j = 0; j < L; ++j) out[j] = grad * (b_mu[j] + 2.f * x[j] * b_xx[j] + y[j] * b_xy[j]);
        };
        blur_band<3>(H, W, C, b * BAND, std::min(H, (b + 1) * BAND), win, fill, emit);
    }
}

}  // namespace gs
