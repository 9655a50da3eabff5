// CPU tile rasterizer, forward and backward. OpenMP over 16x16 tiles; each tile
// copies its depth-sorted Gaussians into thread-local structure-of-arrays buffers.
// Backward accumulates per-tile gradients in a per-intersection buffer that is
// reduced per Gaussian in a fixed order, so results are bit-for-bit deterministic
// whatever the thread count or schedule.
#include <algorithm>
#include <vector>

#include "../gaussian_math.h"
#include "../kernels.h"

namespace gs {

namespace {

// Tile-local copy of the Gaussians of one tile.
struct TileSoA {
    std::vector<float> mx, my, ca, cb, cc, op, lthr, r, g, b, z;
    void resize(size_t n) {
        for (auto* v : {&mx, &my, &ca, &cb, &cc, &op, &lthr, &r, &g, &b, &z}) v->resize(n);
    }
    void load(const RasterArgs& a, int64_t start, int64_t n) {
        resize((size_t)n);
        for (int64_t j = 0; j < n; ++j) {
            const int64_t gi = a.isect_ids[start + j];
            mx[j] = a.means2d[2 * gi];
            my[j] = a.means2d[2 * gi + 1];
            ca[j] = a.conics[3 * gi];
            cb[j] = a.conics[3 * gi + 1];
            cc[j] = a.conics[3 * gi + 2];
            op[j] = a.opacities[gi];
            // power below this can never give alpha >= 1/255 (margin far above float error)
            lthr[j] = -logf(255.f * op[j]) - 1e-3f;
            r[j] = a.colors[3 * gi];
            g[j] = a.colors[3 * gi + 1];
            b[j] = a.colors[3 * gi + 2];
            z[j] = a.depths[gi];
        }
    }
};

inline int tiles_x_of(int w) { return (w + TILE - 1) / TILE; }
inline int tiles_y_of(int h) { return (h + TILE - 1) / TILE; }

}  // namespace

void raster_forward_cpu(const RasterArgs& a, float* out_rgb, float* out_alpha, float* out_depth, float* final_T,
                        int32_t* n_contrib) {
    const int W = a.width, H = a.height;
    const int tx_n = tiles_x_of(W), ty_n = tiles_y_of(H);
    const int64_t T = (int64_t)tx_n * ty_n;
    const float bg[3] = {a.background ? a.background[0] : 0.f, a.background ? a.background[1] : 0.f,
                         a.background ? a.background[2] : 0.f};
#pragma omp parallel
    {
        TileSoA s;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < T; ++t) {
            const int64_t start = a.tile_offsets[t], n = a.tile_offsets[t + 1] - start;
            s.load(a, start, n);
            const int tx = (int)(t % tx_n), ty = (int)(t / tx_n);
            const int x0 = tx * TILE, y0 = ty * TILE;
            const int x1 = std::min(x0 + TILE, W), y1 = std::min(y0 + TILE, H);
            const float *mx = s.mx.data(), *my = s.my.data(), *ca = s.ca.data(), *cb = s.cb.data(),
                        *cc = s.cc.data(), *op = s.op.data(), *lt = s.lthr.data(), *cr = s.r.data(),
                        *cg = s.g.data(), *cbl = s.b.data(), *cz = s.z.data();
            for (int py = y0; py < y1; ++py) {
                for (int px = x0; px < x1; ++px) {
                    const float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
                    float Tr = 1.f, R = 0.f, G = 0.f, B = 0.f, D = 0.f;
                    int32_t last = 0;
                    for (int64_t j = 0; j < n; ++j) {
                        const float dx = fx - mx[j], dy = fy - my[j];
                        const float power = -0.5f * (ca[j] * dx * dx + cc[j] * dy * dy) - cb[j] * dx * dy;
                        if (power > 0.f || power < lt[j]) continue;
                        const float alpha = std::min(ALPHA_MAX, op[j] * expf(power));
                        if (alpha < ALPHA_MIN) continue;
                        const float nt = Tr * (1.f - alpha);
                        if (nt < T_MIN) break;
                        const float w = alpha * Tr;
                        R += w * cr[j];
                        G += w * cg[j];
                        B += w * cbl[j];
                        D += w * cz[j];
                        Tr = nt;
                        last = (int32_t)(j + 1);
                    }
                    const int64_t p = (int64_t)py * W + px;
                    out_rgb[3 * p] = R + Tr * bg[0];
                    out_rgb[3 * p + 1] = G + Tr * bg[1];
                    out_rgb[3 * p + 2] = B + Tr * bg[2];
                    out_alpha[p] = 1.f - Tr;
                    out_depth[p] = D;
                    final_T[p] = Tr;
                    n_contrib[p] = last;
                }
            }
        }
    }
}

namespace {
constexpr int NG = 10;  // gradient slots per intersection: mean2d 2, conic 3, opacity, rgb 3, depth
}

void raster_backward_cpu(const RasterArgs& a, int64_t N, const float* final_T, const int32_t* n_contrib,
                         const float* v_rgb, const float* v_alpha, const float* v_depth, float* v_means2d,
                         float* v_conics, float* v_colors, float* v_opacities, float* v_depths) {
    const int W = a.width, H = a.height;
    const int tx_n = tiles_x_of(W), ty_n = tiles_y_of(H);
    const int64_t T = (int64_t)tx_n * ty_n;
    const int64_t M = a.tile_offsets[T];
    const float bg[3] = {a.background ? a.background[0] : 0.f, a.background ? a.background[1] : 0.f,
                         a.background ? a.background[2] : 0.f};
    std::vector<float> buf((size_t)M * NG);
#pragma omp parallel
    {
        TileSoA s;
        std::vector<float> acc;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < T; ++t) {
            const int64_t start = a.tile_offsets[t], n = a.tile_offsets[t + 1] - start;
            if (n == 0) continue;
            s.load(a, start, n);
            acc.assign((size_t)n * NG, 0.f);
            const int tx = (int)(t % tx_n), ty = (int)(t / tx_n);
            const int x0 = tx * TILE, y0 = ty * TILE;
            const int x1 = std::min(x0 + TILE, W), y1 = std::min(y0 + TILE, H);
            const float *mx = s.mx.data(), *my = s.my.data(), *ca = s.ca.data(), *cb = s.cb.data(),
                        *cc = s.cc.data(), *op = s.op.data(), *lt = s.lthr.data(), *cr = s.r.data(),
                        *cg = s.g.data(), *cbl = s.b.data(), *cz = s.z.data();
            float* ac = acc.data();
            for (int py = y0; py < y1; ++py) {
                for (int px = x0; px < x1; ++px) {
                    const int64_t p = (int64_t)py * W + px;
                    const int32_t last = n_contrib[p];
                    if (last == 0) continue;
                    const float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
                    const float T_final = final_T[p];
                    const float vr = v_rgb[3 * p], vg = v_rgb[3 * p + 1], vb = v_rgb[3 * p + 2];
                    const float va = v_alpha ? v_alpha[p] : 0.f, vd = v_depth ? v_depth[p] : 0.f;
                    // alpha_out = 1 - T_final and the background term both depend on T_final
                    const float v_Tfinal = (vr * bg[0] + vg * bg[1] + vb * bg[2]) - va;
                    float Tr = T_final;
                    float accR = 0.f, accG = 0.f, accB = 0.f, accD = 0.f;  // blend of what lies behind
                    float lastA = 0.f, lastR = 0.f, lastG = 0.f, lastB = 0.f, lastD = 0.f;
                    for (int64_t j = last - 1; j >= 0; --j) {
                        const float dx = fx - mx[j], dy = fy - my[j];
                        const float power = -0.5f * (ca[j] * dx * dx + cc[j] * dy * dy) - cb[j] * dx * dy;
                        if (power > 0.f || power < lt[j]) continue;
                        const float Gv = expf(power);
                        const float alpha = std::min(ALPHA_MAX, op[j] * Gv);
                        if (alpha < ALPHA_MIN) continue;
                        const float om = 1.f - alpha;
                        Tr = Tr / om;
                        const float w = alpha * Tr;
                        float* gj = ac + NG * j;
                        gj[5] += w * vr;
                        gj[6] += w * vg;
                        gj[7] += w * vb;
                        gj[8] += w * vd;
                        accR = lastA * lastR + (1.f - lastA) * accR;
                        accG = lastA * lastG + (1.f - lastA) * accG;
                        accB = lastA * lastB + (1.f - lastA) * accB;
                        accD = lastA * lastD + (1.f - lastA) * accD;
                        lastA = alpha;
                        lastR = cr[j]; lastG = cg[j]; lastB = cbl[j]; lastD = cz[j];
                        float v_al = Tr * ((cr[j] - accR) * vr + (cg[j] - accG) * vg + (cbl[j] - accB) * vb +
                                           (cz[j] - accD) * vd);
                        v_al += -T_final / om * v_Tfinal;
                        float vm2[2] = {0.f, 0.f}, vcon[3] = {0.f, 0.f, 0.f}, vop = 0.f;
                        const float con[3] = {ca[j], cb[j], cc[j]};
                        alpha_vjp(con, op[j], dx, dy, Gv, v_al, vm2, vcon, vop);
                        gj[0] += vm2[0];
                        gj[1] += vm2[1];
                        gj[2] += vcon[0];
                        gj[3] += vcon[1];
                        gj[4] += vcon[2];
                        gj[9] += vop;
                    }
                }
            }
            std::copy(acc.begin(), acc.end(), buf.begin() + start * NG);
        }
    }
    // fixed-order reduction per Gaussian (sequential over intersections)
    for (int64_t k = 0; k < M; ++k) {
        const int64_t gi = a.isect_ids[k];
        const float* gk = buf.data() + k * NG;
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
    }
    (void)N;
}

}  // namespace gs
