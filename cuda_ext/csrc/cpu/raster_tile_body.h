// Vector tile kernels of the CPU rasterizer. Included by raster_cpu.cpp once per
// instruction set, each time inside its own namespace and `#pragma GCC target` region, so
// that every helper is compiled for that instruction set too (inline helpers defined
// outside such a region get lowered for the baseline first). No include guard on purpose.
// Uses from the including file: BW, BH, L, TileSoA, TileGeom, CHUNK, NG, RasterArgs.
// GS_PRIMITIVES_ONLY: only the vector type and its primitives (bc, bci, any, sel, seli,
// andv, vexp). GS_PAIR_VECTORS: the includer has defined those for a vector type of its
// own (e.g. two halves), so only the kernels follow.

#ifndef GS_PAIR_VECTORS
typedef float vf __attribute__((vector_size(4 * L)));
typedef int32_t vi __attribute__((vector_size(4 * L)));
typedef uint64_t vu64 __attribute__((vector_size(4 * L)));

// broadcasts (with GCC a shuffle with an all-zero mask compiles to one broadcast instruction)
#if defined(__GNUC__) && !defined(__clang__)
inline vf bc(float s) {
    const vf v = {s};
    return __builtin_shuffle(v, vi{});
}
inline vi bci(int32_t s) {
    const vi v = {s};
    return __builtin_shuffle(v, vi{});
}
#else
inline vf bc(float s) { return vf{} + s; }
inline vi bci(int32_t s) { return vi{} + s; }
#endif
// whether any lane of a mask is set: one mask test where the instruction set has it
#if defined(GS_ANY_AVX512)
inline bool any(vi m) { return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0; }
#elif defined(GS_ANY_AVX2)
inline bool any(vi m) { return !_mm256_testz_si256((__m256i)m, (__m256i)m); }
#else
inline bool any(vi m) {
    const vu64 u = (vu64)m;
    uint64_t r = 0;
    for (int k = 0; k < L / 2; ++k) r |= u[k];
    return r != 0;
}
#endif
inline vf sel(vi m, vf a, vf b) { return m ? a : b; }
inline vi seli(vi m, vi a, vi b) { return m ? a : b; }
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
#endif  // GS_PAIR_VECTORS

#ifndef GS_PRIMITIVES_ONLY

// Pixel centres of a block at (bx, by) and the lanes that lie inside the tile.
struct Block {
    vf fx, fy;
    vi valid;
};

inline Block make_block(int bx, int by, const TileGeom& tg) {
    Block b;
    for (int k = 0; k < L; ++k) {
        const int x = bx + k % BW, y = by + k / BW;
        b.fx[k] = (float)bx + ((float)(k % BW) + 0.5f);
        b.fy[k] = (float)y + 0.5f;
        b.valid[k] = (x < tg.x1 && y < tg.y1) ? -1 : 0;
    }
    return b;
}

inline int64_t pixel_of(int bx, int by, int k, int W) { return (int64_t)(by + k / BW) * W + bx + k % BW; }

void forward_tile(TileSoA& s, const RasterArgs& a, const TileGeom& tg, int W, const float bg[3], float* out_rgb,
                  float* out_alpha, float* out_depth, float* final_T, int32_t* n_contrib) {
    const int64_t n = s.n;
    for (int by = tg.y0; by < tg.y1; by += BH) {
        for (int bx = tg.x0; bx < tg.x1; bx += BW) {
            const Block blk = make_block(bx, by, tg);
            const vf fx = blk.fx, fy = blk.fy;
            vi active = blk.valid;
            vf Tr = bc(1.f), R = {}, G = {}, B = {}, D = {};
            vi last = {};
            for (int64_t j0 = 0; j0 < n; j0 += CHUNK) {
                const int64_t j1 = std::min(n, j0 + CHUNK);
                if (j1 > s.loaded) s.load(a, j1);
                const float *mx = s.f[TileSoA::MX], *my = s.f[TileSoA::MY], *ca = s.f[TileSoA::CA],
                            *cb = s.f[TileSoA::CB], *cc = s.f[TileSoA::CC], *op = s.f[TileSoA::OP],
                            *lt = s.f[TileSoA::LT], *cr = s.f[TileSoA::R], *cg = s.f[TileSoA::G],
                            *cbl = s.f[TileSoA::B], *cz = s.f[TileSoA::Z];
                bool done = false;
                for (int64_t j = j0; j < j1; ++j) {
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
                    last = seli(m, bci((int32_t)(j + 1)), last);
                    if (!any(active)) {
                        done = true;
                        break;
                    }
                }
                if (done) break;
            }
            for (int k = 0; k < L; ++k) {
                if (!blk.valid[k]) continue;
                const int64_t p = pixel_of(bx, by, k, W);
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

// acc: s.loaded * ng vectors (per-lane partial sums), zeroed by the caller; ng = NG_ABS adds
// each pixel's |gradient| of the mean, per axis, in slots NG and NG + 1
void backward_tile(const TileSoA& s, const TileGeom& tg, int W, const float bg[3], const float* final_T,
                   const int32_t* n_contrib, const float* v_rgb, const float* v_alpha, const float* v_depth, void* acc_,
                   int ng) {
    const float *mx = s.f[TileSoA::MX], *my = s.f[TileSoA::MY], *ca = s.f[TileSoA::CA], *cb = s.f[TileSoA::CB],
                *cc = s.f[TileSoA::CC], *op = s.f[TileSoA::OP], *lt = s.f[TileSoA::LT], *cr = s.f[TileSoA::R],
                *cg = s.f[TileSoA::G], *cbl = s.f[TileSoA::B], *cz = s.f[TileSoA::Z];
    vf* acc = static_cast<vf*>(acc_);
    for (int by = tg.y0; by < tg.y1; by += BH) {
        for (int bx = tg.x0; bx < tg.x1; bx += BW) {
            const Block blk = make_block(bx, by, tg);
            vi last = {};
            vf T_final = {}, vr = {}, vg = {}, vb = {}, va = {}, vd = {};
            int32_t max_last = 0;
            for (int k = 0; k < L; ++k) {
                if (!blk.valid[k]) continue;
                const int64_t p = pixel_of(bx, by, k, W);
                last[k] = n_contrib[p];
                max_last = std::max(max_last, last[k]);
                T_final[k] = final_T[p];
                vr[k] = v_rgb[3 * p];
                vg[k] = v_rgb[3 * p + 1];
                vb[k] = v_rgb[3 * p + 2];
                if (v_alpha) va[k] = v_alpha[p];
                if (v_depth) vd[k] = v_depth[p];
            }
            if (max_last == 0) continue;
            // rgb_out = C + T_final bg and alpha_out = 1 - T_final both depend on T_final
            const vf v_Tfinal = vr * bc(bg[0]) + vg * bc(bg[1]) + vb * bc(bg[2]) - va;
            // T_final = T_before * prod (1 - alpha_k) over later k: d/dalpha_j = -T_final / (1 - alpha_j)
            const vf TV = bc(-1.f) * T_final * v_Tfinal;
            const vf fx = blk.fx, fy = blk.fy;
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
                const vf inv_om = bc(1.f) / (bc(1.f) - alpha);  // the only division per blend
                Tr = sel(m, Tr * inv_om, Tr);
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
                const vf v_al =
                    Tr * ((cR - accR) * vr + (cG - accG) * vg + (cB - accB) * vb + (cZ - accD) * vd) + TV * inv_om;
                // alpha = min(0.99, o G): no gradient through o or G where clamped (as alpha_vjp)
                const vi mg = m & ~clamped;
                const vf v_G = bc(op[j]) * v_al;
                const vf gdx = Gv * dx, gdy = Gv * dy;
                vf* aj = acc + (size_t)j * ng;
                const vf gmx = andv(mg, v_G * (gdx * bc(ca[j]) + gdy * bc(cb[j])));
                const vf gmy = andv(mg, v_G * (gdy * bc(cc[j]) + gdx * bc(cb[j])));
                aj[0] += gmx;
                aj[1] += gmy;
                aj[2] += andv(mg, bc(-0.5f) * gdx * dx * v_G);
                aj[3] += andv(mg, bc(-1.f) * gdx * dy * v_G);
                aj[4] += andv(mg, bc(-0.5f) * gdy * dy * v_G);
                aj[5] += andv(m, w * vr);
                aj[6] += andv(m, w * vg);
                aj[7] += andv(m, w * vb);
                aj[8] += andv(m, w * vd);
                aj[9] += andv(mg, Gv * v_al);
                if (ng == NG_ABS) {  // one lane is one pixel: the absolute value is taken per pixel
                    aj[NG] += sel(gmx < bc(0.f), bc(0.f) - gmx, gmx);
                    aj[NG + 1] += sel(gmy < bc(0.f), bc(0.f) - gmy, gmy);
                }
            }
        }
    }
}

// lanes summed in a fixed order
void sum_lanes(const void* acc_, int64_t count, float* out) {
    const vf* acc = static_cast<const vf*>(acc_);
    for (int64_t q = 0; q < count; ++q) {
        float sum = 0.f;
        for (int k = 0; k < L; ++k) sum += acc[q][k];
        out[q] = sum;
    }
}
#endif  // GS_PRIMITIVES_ONLY
