// A 16-lane vector type made of P = L / HL parts of HL lanes, for the 4x4-pixel kernels
// on instruction sets whose registers hold fewer than 16 floats. Included by
// raster_cpu.cpp inside a kernel namespace (after BW, BH, L = 16 and HL), then
// raster_tile_body.h with GS_PAIR_VECTORS. Every operation is done part by part, so the
// kernels do exactly the operations of the native 16-lane version and give its results.
// No include guard on purpose.
namespace h {
constexpr int L = HL;
#define GS_PRIMITIVES_ONLY
#include "raster_tile_body.h"
#undef GS_PRIMITIVES_ONLY
}  // namespace h
constexpr int P = L / HL;
struct vf {
    h::vf h[P];
    float& operator[](int k) { return reinterpret_cast<float*>(h)[k]; }
    float operator[](int k) const { return reinterpret_cast<const float*>(h)[k]; }
};
struct vi {
    h::vi h[P];
    int32_t& operator[](int k) { return reinterpret_cast<int32_t*>(h)[k]; }
    int32_t operator[](int k) const { return reinterpret_cast<const int32_t*>(h)[k]; }
};
#define GS_PART_OP(R, T, op)                                   \
    inline R operator op(const T& a, const T& b) {             \
        R r;                                                   \
        for (int q = 0; q < P; ++q) r.h[q] = a.h[q] op b.h[q]; \
        return r;                                              \
    }
GS_PART_OP(vf, vf, +)
GS_PART_OP(vf, vf, -)
GS_PART_OP(vf, vf, *)
GS_PART_OP(vf, vf, /)
GS_PART_OP(vi, vf, <)
GS_PART_OP(vi, vf, >)
GS_PART_OP(vi, vf, <=)
GS_PART_OP(vi, vf, >=)
GS_PART_OP(vi, vi, <)
GS_PART_OP(vi, vi, &)
#undef GS_PART_OP
inline vi operator~(const vi& a) {
    vi r;
    for (int q = 0; q < P; ++q) r.h[q] = ~a.h[q];
    return r;
}
inline vi& operator&=(vi& a, const vi& b) {
    for (int q = 0; q < P; ++q) a.h[q] &= b.h[q];
    return a;
}
inline vf& operator+=(vf& a, const vf& b) {
    for (int q = 0; q < P; ++q) a.h[q] += b.h[q];
    return a;
}
inline vf bc(float s) {
    vf r;
    const h::vf v = h::bc(s);
    for (int q = 0; q < P; ++q) r.h[q] = v;
    return r;
}
inline vi bci(int32_t s) {
    vi r;
    const h::vi v = h::bci(s);
    for (int q = 0; q < P; ++q) r.h[q] = v;
    return r;
}
inline bool any(const vi& m) {
    h::vi u = m.h[0];
    for (int q = 1; q < P; ++q) u |= m.h[q];
    return h::any(u);
}
inline vf sel(const vi& m, const vf& a, const vf& b) {
    vf r;
    for (int q = 0; q < P; ++q) r.h[q] = h::sel(m.h[q], a.h[q], b.h[q]);
    return r;
}
inline vi seli(const vi& m, const vi& a, const vi& b) {
    vi r;
    for (int q = 0; q < P; ++q) r.h[q] = h::seli(m.h[q], a.h[q], b.h[q]);
    return r;
}
inline vf andv(const vi& m, const vf& a) {
    vf r;
    for (int q = 0; q < P; ++q) r.h[q] = h::andv(m.h[q], a.h[q]);
    return r;
}
inline vf vexp(const vf& x) {
    vf r;
    for (int q = 0; q < P; ++q) r.h[q] = h::vexp(x.h[q]);
    return r;
}
