// CPU tile rasterizer, forward and backward. OpenMP over 16x16 tiles; each tile copies
// its depth-sorted Gaussians into thread-local structure-of-arrays buffers, and pixels
// are processed 8 at a time (one row segment) with portable vector extensions, each
// lane doing exactly the scalar algorithm. Backward accumulates per-lane gradients per
// tile, reduces the lanes in a fixed order into a per-intersection buffer, and sums that
// per Gaussian in intersection order: bit-for-bit deterministic for any thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../gaussian_math.h"
#include "../kernels.h"

// On x86-64 Linux with GCC, compile the hot tile functions twice (AVX2 and baseline) and
// pick at load time: the build may be shared, so no -march=native. Both versions do the
// same float operations in the same order (no FMA), so they give identical results.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define GS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GS_CLONES
#endif

namespace gs {

namespace {

constexpr int L = 8;  // pixels per vector
typedef float vf __attribute__((vector_size(4 * L)));
typedef int32_t vi __attribute__((vector_size(4 * L)));
typedef uint64_t vu64 __attribute__((vector_size(4 * L)));

inline vf bc(float s) { return vf{} + s; }
inline vi bci(int32_t s) { return vi{} + s; }
inline bool any(vi m) {
    const vu64 u = (vu64)m;
    uint64_t r = 0;
    for (int k = 0; k < L / 2; ++k) r |= u[k];
    return r != 0;
}
inline vf sel(vi m, vf a, vf b) { return m ? a : b; }
inline vf andv(vi m, vf a) { return (vf)((vi)a & m); }

// exp(x) for x <= 0 (clamped below at -87): Cody-Waite range reduction and a degree-6
// polynomial, ~1 ulp. The same function serves forward and backward, so the skip and
// stop decisions of both passes agree exactly.
inline vf vexp(vf x) {
    x = sel(x < bc(-87.f), bc(-87.f), x);
    x = sel(x > bc(0.f), bc(0.f), x);
    vf fx = x * bc(1.44269504088896341f) + bc(0.5f);
    vi n = __builtin_convertvector(fx, vi);                         // truncates toward zero
    n = n - (vi)(__builtin_convertvector(n, vf) > fx ? bci(1) : bci(0));  // floor
    const vf fn = __builtin_convertvector(n, vf);
    vf r = x - fn * bc(0.693359375f) - fn * bc(-2.12194440e-4f);
    vf p = bc(1.9875691500e-4f);
    p = p * r + bc(1.3981999507e-3f);
    p = p * r + bc(8.3334519073e-3f);
    p = p * r + bc(4.1665795894e-2f);
    p = p * r + bc(1.6666665459e-1f);
    p = p * r + bc(5.0000001201e-1f);
    const vf y = p * r * r + r + bc(1.f);
    const vi e = (n + bci(127)) << 23;
    return y * (vf)e;
}

struct TileSoA {
    std::vector<float> mx, my, ca, cb, cc, op, lthr, r, g, b, z;
    void load(const RasterArgs& a, int64_t start, int64_t n) {
        for (auto* v : {&mx, &my, &ca, &cb, &cc, &op, &lthr, &r, &g, &b, &z}) v->resize((size_t)n);
        for (int64_t j = 0; j < n; ++j) {
            const int64_t gi = a.isect_ids[start + j];
            mx[j] = a.means2d[2 * gi];
            my[j] = a.means2d[2 * gi + 1];
            ca[j] = a.conics[3 * gi];
            cb[j] = a.conics[3 * gi + 1];
            cc[j] = a.conics[3 * gi + 2];
            op[j] = a.opacities[gi];
            // below this power alpha < 1/255 for sure (margin far above float error)
            lthr[j] = -logf(255.f * op[j]) - 1e-3f;
            r[j] = a.colors[3 * gi];
            g[j] = a.colors[3 * gi + 1];
            b[j] = a.colors[3 * gi + 2];
            z[j] = a.depths[gi];
        }
    }
};

inline vf load_row(const float* p, int count) {  // count <= L valid lanes
    vf v = {};
    if (count == L) std::memcpy(&v, p, sizeof(v));
    else for (int k = 0; k < count; ++k) v[k] = p[k];
    return v;
}
inline vf load_strided(const float* p, int stride, int count) {
    vf v = {};
    for (int k = 0; k < count; ++k) v[k] = p[(int64_t)k * stride];
    return v;
}

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

GS_CLONES void forward_tile(const TileSoA& s, int64_t n, const TileGeom& tg, int W, const float bg[3], float* out_rgb,
                            float* out_alpha, float* out_depth, float* final_T, int32_t* n_contrib) {
    const float *mx = s.mx.data(), *my = s.my.data(), *ca = s.ca.data(), *cb = s.cb.data(), *cc = s.cc.data(),
                *op = s.op.data(), *lt = s.lthr.data(), *cr = s.r.data(), *cg = s.g.data(), *cbl = s.b.data(),
                *cz = s.z.data();
    vf lane_off;
    for (int k = 0; k < L; ++k) lane_off[k] = (float)k + 0.5f;
    for (int py = tg.y0; py < tg.y1; ++py) {
        for (int gx = tg.x0; gx < tg.x1; gx += L) {
            const int count = std::min(L, tg.x1 - gx);
            vi active;
            for (int k = 0; k < L; ++k) active[k] = k < count ? -1 : 0;
            const vf fx = bc((float)gx) + lane_off, fy = bc((float)py + 0.5f);
            vf Tr = bc(1.f), R = {}, G = {}, B = {}, D = {};
            vi last = {};
            for (int64_t j = 0; j < n; ++j) {
                const vf dx = fx - bc(mx[j]), dy = fy - bc(my[j]);
                const vf power = bc(-0.5f) * (bc(ca[j]) * dx * dx + bc(cc[j]) * dy * dy) - bc(cb[j]) * dx * dy;
                vi m = active & (power <= bc(0.f)) & (power >= bc(lt[j]));
                if (!any(m)) continue;
                vf alpha = bc(op[j]) * vexp(power);
                alpha = sel(alpha > bc(ALPHA_MAX), bc(ALPHA_MAX), alpha);
                m &= alpha >= bc(ALPHA_MIN);
                if (!any(m)) continue;
                const vf nt = Tr * (bc(1.f) - alpha);
                const vi stop = m & (nt < bc(T_MIN));
                active &= ~stop;
                m &= ~stop;
                const vf w = alpha * Tr;
                R = sel(m, R + w * bc(cr[j]), R);
                G = sel(m, G + w * bc(cg[j]), G);
                B = sel(m, B + w * bc(cbl[j]), B);
                D = sel(m, D + w * bc(cz[j]), D);
                Tr = sel(m, nt, Tr);
                last = m ? bci((int32_t)(j + 1)) : last;
                if (!any(active)) break;
            }
            for (int k = 0; k < count; ++k) {
                const int64_t p = (int64_t)py * W + gx + k;
                out_rgb[3 * p] = R[k] + Tr[k] * bg[0];
                out_rgb[3 * p + 1] = G[k] + Tr[k] * bg[1];
                out_rgb[3 * p + 2] = B[k] + Tr[k] * bg[2];
                out_alpha[p] = 1.f - Tr[k];
                out_depth[p] = D[k];
                final_T[p] = Tr[k];
                n_contrib[p] = last[k];
            }
        }
    }
}

constexpr int NG = 10;  // gradient slots per intersection: mean2d 2, conic 3, rgb 3, depth, opacity

// acc: n * NG vectors (per-lane partial sums), zeroed by the caller
GS_CLONES void backward_tile(const TileSoA& s, const TileGeom& tg, int W, const float bg[3], const float* final_T,
                             const int32_t* n_contrib, const float* v_rgb, const float* v_alpha,
                             const float* v_depth, vf* acc) {
    const float *mx = s.mx.data(), *my = s.my.data(), *ca = s.ca.data(), *cb = s.cb.data(), *cc = s.cc.data(),
                *op = s.op.data(), *lt = s.lthr.data(), *cr = s.r.data(), *cg = s.g.data(), *cbl = s.b.data(),
                *cz = s.z.data();
    vf lane_off;
    for (int k = 0; k < L; ++k) lane_off[k] = (float)k + 0.5f;
    for (int py = tg.y0; py < tg.y1; ++py) {
        for (int gx = tg.x0; gx < tg.x1; gx += L) {
            const int count = std::min(L, tg.x1 - gx);
            const int64_t p0 = (int64_t)py * W + gx;
            vi last = {};
            int32_t max_last = 0;
            for (int k = 0; k < count; ++k) {
                last[k] = n_contrib[p0 + k];
                max_last = std::max(max_last, last[k]);
            }
            if (max_last == 0) continue;
            const vf T_final = load_row(final_T + p0, count);
            const vf vr = load_strided(v_rgb + 3 * p0, 3, count), vg = load_strided(v_rgb + 3 * p0 + 1, 3, count),
                     vb = load_strided(v_rgb + 3 * p0 + 2, 3, count);
            const vf va = v_alpha ? load_row(v_alpha + p0, count) : vf{};
            const vf vd = v_depth ? load_row(v_depth + p0, count) : vf{};
            // rgb_out = C + T_final bg and alpha_out = 1 - T_final both depend on T_final
            const vf v_Tfinal = vr * bc(bg[0]) + vg * bc(bg[1]) + vb * bc(bg[2]) - va;
            const vf fx = bc((float)gx) + lane_off, fy = bc((float)py + 0.5f);
            vf Tr = T_final;
            vf accR = {}, accG = {}, accB = {}, accD = {};  // blend of what lies behind
            vf lastA = {}, lastR = {}, lastG = {}, lastB = {}, lastD = {};
            for (int64_t j = max_last - 1; j >= 0; --j) {
                const vf dx = fx - bc(mx[j]), dy = fy - bc(my[j]);
                const vf power = bc(-0.5f) * (bc(ca[j]) * dx * dx + bc(cc[j]) * dy * dy) - bc(cb[j]) * dx * dy;
                vi m = (bci((int32_t)j) < last) & (power <= bc(0.f)) & (power >= bc(lt[j]));
                if (!any(m)) continue;
                const vf Gv = vexp(power);
                const vf raw = bc(op[j]) * Gv;
                const vi clamped = raw > bc(ALPHA_MAX);
                const vf alpha = sel(clamped, bc(ALPHA_MAX), raw);
                m &= alpha >= bc(ALPHA_MIN);
                if (!any(m)) continue;
                const vf om = bc(1.f) - alpha;
                Tr = sel(m, Tr / om, Tr);
                const vf w = alpha * Tr;
                const vf cR = bc(cr[j]), cG = bc(cg[j]), cB = bc(cbl[j]), cZ = bc(cz[j]);
                accR = sel(m, lastA * lastR + (bc(1.f) - lastA) * accR, accR);
                accG = sel(m, lastA * lastG + (bc(1.f) - lastA) * accG, accG);
                accB = sel(m, lastA * lastB + (bc(1.f) - lastA) * accB, accB);
                accD = sel(m, lastA * lastD + (bc(1.f) - lastA) * accD, accD);
                lastA = sel(m, alpha, lastA);
                lastR = sel(m, cR, lastR);
                lastG = sel(m, cG, lastG);
                lastB = sel(m, cB, lastB);
                lastD = sel(m, cZ, lastD);
                const vf v_al = Tr * ((cR - accR) * vr + (cG - accG) * vg + (cB - accB) * vb + (cZ - accD) * vd) +
                                bc(-1.f) * T_final / om * v_Tfinal;
                // alpha = min(0.99, o G): no gradient through o or G where clamped (as alpha_vjp)
                const vi mg = m & ~clamped;
                const vf v_G = bc(op[j]) * v_al;
                const vf gdx = Gv * dx, gdy = Gv * dy;
                vf* aj = acc + (size_t)j * NG;
                aj[0] += andv(mg, v_G * (gdx * bc(ca[j]) + gdy * bc(cb[j])));
                aj[1] += andv(mg, v_G * (gdy * bc(cc[j]) + gdx * bc(cb[j])));
                aj[2] += andv(mg, bc(-0.5f) * gdx * dx * v_G);
                aj[3] += andv(mg, bc(-1.f) * gdx * dy * v_G);
                aj[4] += andv(mg, bc(-0.5f) * gdy * dy * v_G);
                aj[5] += andv(m, w * vr);
                aj[6] += andv(m, w * vg);
                aj[7] += andv(m, w * vb);
                aj[8] += andv(m, w * vd);
                aj[9] += andv(mg, Gv * v_al);
            }
        }
    }
}

}  // namespace

void raster_forward_cpu(const RasterArgs& a, float* out_rgb, float* out_alpha, float* out_depth, float* final_T,
                        int32_t* n_contrib) {
    const int W = a.width, H = a.height;
    const int64_t T = (int64_t)((W + TILE - 1) / TILE) * ((H + TILE - 1) / TILE);
    const float bg[3] = {a.background ? a.background[0] : 0.f, a.background ? a.background[1] : 0.f,
                         a.background ? a.background[2] : 0.f};
#pragma omp parallel
    {
        TileSoA s;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < T; ++t) {
            const int64_t start = a.tile_offsets[t], n = a.tile_offsets[t + 1] - start;
            s.load(a, start, n);
            forward_tile(s, n, tile_geom(t, W, H), W, bg, out_rgb, out_alpha, out_depth, final_T, n_contrib);
        }
    }
}

void raster_backward_cpu(const RasterArgs& a, int64_t N, const float* final_T, const int32_t* n_contrib,
                         const float* v_rgb, const float* v_alpha, const float* v_depth, float* v_means2d,
                         float* v_conics, float* v_colors, float* v_opacities, float* v_depths) {
    const int W = a.width, H = a.height;
    const int64_t T = (int64_t)((W + TILE - 1) / TILE) * ((H + TILE - 1) / TILE);
    const int64_t M = a.tile_offsets[T];
    const float bg[3] = {a.background ? a.background[0] : 0.f, a.background ? a.background[1] : 0.f,
                         a.background ? a.background[2] : 0.f};
    std::vector<float> buf((size_t)M * NG);
#pragma omp parallel
    {
        TileSoA s;
        std::vector<float> acc_store;  // vectors in a template argument lose their alignment: align by hand
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < T; ++t) {
            const int64_t start = a.tile_offsets[t], n = a.tile_offsets[t + 1] - start;
            if (n == 0) continue;
            s.load(a, start, n);
            acc_store.assign((size_t)n * NG * L + L, 0.f);
            const uintptr_t addr = reinterpret_cast<uintptr_t>(acc_store.data());
            vf* acc = reinterpret_cast<vf*>((addr + sizeof(vf) - 1) / sizeof(vf) * sizeof(vf));
            backward_tile(s, tile_geom(t, W, H), W, bg, final_T, n_contrib, v_rgb, v_alpha, v_depth, acc);
            float* out = buf.data() + start * NG;
            for (int64_t q = 0; q < n * NG; ++q) {  // lanes summed in a fixed order
                float sum = 0.f;
                for (int k = 0; k < L; ++k) sum += acc[q][k];
                out[q] = sum;
            }
        }
    }
    // fixed-order reduction per Gaussian (intersection order)
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
