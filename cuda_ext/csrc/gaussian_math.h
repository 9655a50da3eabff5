// Shared math of the Gaussian rasterizer: one definition used by the CPU (.cpp)
// and the CUDA (.cu) kernels. Plain C++ when compiled without nvcc.
#pragma once

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define GS_HD __host__ __device__ __forceinline__
#else
#define GS_HD inline
#endif

namespace gs {

// ---------------------------------------------------------------- constants
constexpr int TILE = 16;                     // tile side in pixels
constexpr float NEAR_PLANE = 0.2f;           // cull when view depth < this
constexpr float COV2D_DILATION = 0.3f;       // added to the 2D covariance diagonal
constexpr float FOV_CLAMP = 1.3f;            // the Jacobian's view-ratio limit, in half fields of view
constexpr float ALPHA_MAX = 0.99f;           // alpha clamp
constexpr float ALPHA_MIN = 1.0f / 255.0f;   // skip weaker contributions
constexpr float T_MIN = 1e-4f;               // stop before transmittance falls below
constexpr float SH_C0 = 0.28209479177387814f;
constexpr float SH_C1 = 0.4886025119029199f;

// ---------------------------------------------------------------- small types
struct Mat3 {
    float m[3][3];
};
struct Cam {            // world-to-camera rotation/translation and pinhole intrinsics
    float R[3][3];
    float t[3];
    float fx, fy, cx, cy;
    float lim_x, lim_y;  // |x/z|, |y/z| at which the EWA Jacobian is evaluated at most (1.3 x half the view)
};

GS_HD Cam make_cam(const float* viewmat /*[16] row-major*/, const float* K /*[9]*/) {
    Cam c;
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) c.R[i][j] = viewmat[i * 4 + j];
        c.t[i] = viewmat[i * 4 + 3];
    }
    c.fx = K[0];
    c.cx = K[2];
    c.fy = K[4];
    c.cy = K[5];
    // A Gaussian far outside the view would get a huge linearised footprint (a smear across the
    // image); the Jacobian is taken at its centre clamped to 1.3 x the half field of view.
    c.lim_x = FOV_CLAMP * c.cx / c.fx;
    c.lim_y = FOV_CLAMP * c.cy / c.fy;
    return c;
}

// camera centre in world coordinates: -R^T t
GS_HD void cam_center(const Cam& c, float out[3]) {
    for (int j = 0; j < 3; ++j) out[j] = -(c.R[0][j] * c.t[0] + c.R[1][j] * c.t[1] + c.R[2][j] * c.t[2]);
}

// ---------------------------------------------------------------- rotation
// q = (w, x, y, z), already normalised
GS_HD Mat3 quat_to_rotmat(const float q[4]) {
    const float w = q[0], x = q[1], y = q[2], z = q[3];
    Mat3 r;
    // clang-format off: one matrix row a line
    r.m[0][0] = 1.f - 2.f * (y * y + z * z); r.m[0][1] = 2.f * (x * y - w * z); r.m[0][2] = 2.f * (x * z + w * y);
    r.m[1][0] = 2.f * (x * y + w * z); r.m[1][1] = 1.f - 2.f * (x * x + z * z); r.m[1][2] = 2.f * (y * z - w * x);
    r.m[2][0] = 2.f * (x * z - w * y); r.m[2][1] = 2.f * (y * z + w * x); r.m[2][2] = 1.f - 2.f * (x * x + y * y);
    // clang-format on
    return r;
}

// gradient of the rotation matrix entries -> gradient of the normalised quaternion
GS_HD void quat_to_rotmat_vjp(const float q[4], const Mat3& d, float dq[4]) {
    const float w = q[0], x = q[1], y = q[2], z = q[3];
    const float (*g)[3] = d.m;
    dq[0] = 2.f * (-z * g[0][1] + y * g[0][2] + z * g[1][0] - x * g[1][2] - y * g[2][0] + x * g[2][1]);
    dq[1] = 2.f * (y * g[0][1] + z * g[0][2] + y * g[1][0] - 2.f * x * g[1][1] - w * g[1][2] + z * g[2][0] +
                   w * g[2][1] - 2.f * x * g[2][2]);
    dq[2] = 2.f * (-2.f * y * g[0][0] + x * g[0][1] + w * g[0][2] + x * g[1][0] + z * g[1][2] - w * g[2][0] +
                   z * g[2][1] - 2.f * y * g[2][2]);
    dq[3] = 2.f * (-2.f * z * g[0][0] - w * g[0][1] + x * g[0][2] + w * g[1][0] - 2.f * z * g[1][1] + y * g[1][2] +
                   x * g[2][0] + y * g[2][1]);
}

// Norms below this are treated as this, as the torch side does (quaternions.py: clamp_min): a zero
// quaternion gives qn = 0, which quat_to_rotmat turns into the identity rotation (the file formats'
// reading of a zero quaternion too), with a zero gradient.
constexpr float QUAT_MIN_NORM = 1e-12f;

// returns |q| and writes q / max(|q|, QUAT_MIN_NORM)
GS_HD float normalize_quat(const float* q, float qn[4]) {
    const float n = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    const float inv = 1.f / (n > QUAT_MIN_NORM ? n : QUAT_MIN_NORM);
    for (int i = 0; i < 4; ++i) qn[i] = q[i] * inv;
    return n;
}

// ---------------------------------------------------------------- projection
// Everything the backward pass needs to know about one projected Gaussian.
struct Projected {
    float p[3];        // camera-space mean
    float mean2d[2];   // pixels
    float cov2d[3];    // (a, b, c) of the dilated 2D covariance
    float conic[3];    // inverse of cov2d: (a, b, c)
    float qn[4];       // normalised quaternion
    float qnorm;       // |q|
    Mat3 R;            // rotation of the Gaussian
    Mat3 M;            // R * diag(scale)
    Mat3 Sc;           // camera-space 3D covariance
    float J[2][3];     // EWA Jacobian of the pinhole projection
};

// Projects one Gaussian. Returns false when culled (behind the near plane, or a
// non-positive-definite 2D covariance).
GS_HD bool project_gaussian(const float* mean, const float* quat, const float* scale, const Cam& c, Projected& o) {
    for (int i = 0; i < 3; ++i) o.p[i] = c.R[i][0] * mean[0] + c.R[i][1] * mean[1] + c.R[i][2] * mean[2] + c.t[i];
    const float x = o.p[0], y = o.p[1], z = o.p[2];
    if (!(z >= NEAR_PLANE)) return false;
    o.qnorm = normalize_quat(quat, o.qn);
    if (!(o.qnorm >= 0.f)) return false;  // NaN; a zero quaternion is the identity rotation
    o.R = quat_to_rotmat(o.qn);
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) o.M.m[i][j] = o.R.m[i][j] * scale[j];
    // camera-space covariance: (Rv M)(Rv M)^T
    float A[3][3];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            A[i][j] = c.R[i][0] * o.M.m[0][j] + c.R[i][1] * o.M.m[1][j] + c.R[i][2] * o.M.m[2][j];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) o.Sc.m[i][j] = A[i][0] * A[j][0] + A[i][1] * A[j][1] + A[i][2] * A[j][2];
    const float iz = 1.f / z;
    const float rx = fminf(fmaxf(x * iz, -c.lim_x), c.lim_x), ry = fminf(fmaxf(y * iz, -c.lim_y), c.lim_y);
    // clang-format off: one matrix row a line
    o.J[0][0] = c.fx * iz; o.J[0][1] = 0.f; o.J[0][2] = -c.fx * rx * iz;
    o.J[1][0] = 0.f; o.J[1][1] = c.fy * iz; o.J[1][2] = -c.fy * ry * iz;
    // clang-format on
    float JS[2][3];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            JS[i][j] = o.J[i][0] * o.Sc.m[0][j] + o.J[i][1] * o.Sc.m[1][j] + o.J[i][2] * o.Sc.m[2][j];
    const float a = JS[0][0] * o.J[0][0] + JS[0][1] * o.J[0][1] + JS[0][2] * o.J[0][2] + COV2D_DILATION;
    const float b = JS[0][0] * o.J[1][0] + JS[0][1] * o.J[1][1] + JS[0][2] * o.J[1][2];
    const float cc = JS[1][0] * o.J[1][0] + JS[1][1] * o.J[1][1] + JS[1][2] * o.J[1][2] + COV2D_DILATION;
    const float det = a * cc - b * b;
    if (!(det > 0.f)) return false;
    o.cov2d[0] = a;
    o.cov2d[1] = b;
    o.cov2d[2] = cc;
    const float idet = 1.f / det;
    o.conic[0] = cc * idet;
    o.conic[1] = -b * idet;
    o.conic[2] = a * idet;
    o.mean2d[0] = c.fx * x * iz + c.cx;
    o.mean2d[1] = c.fy * y * iz + c.cy;
    return true;
}

// Vector-Jacobian product of project_gaussian: gradients of (mean2d, conic, depth)
// to (mean, quat, scale). `pr` is the forward result for the same inputs.
GS_HD void project_gaussian_vjp(const float* scale, const Cam& c, const Projected& pr, const float v_mean2d[2],
                                const float v_conic[3], float v_depth, float v_mean[3], float v_quat[4],
                                float v_scale[3]) {
    const float x = pr.p[0], y = pr.p[1], z = pr.p[2];
    const float iz = 1.f / z, iz2 = iz * iz;
    // conic = inverse(cov2d): dL/dcov = -Ci G Ci with G the symmetric gradient of Ci
    const float Ci[2][2] = {{pr.conic[0], pr.conic[1]}, {pr.conic[1], pr.conic[2]}};
    const float G[2][2] = {{v_conic[0], 0.5f * v_conic[1]}, {0.5f * v_conic[1], v_conic[2]}};
    float T[2][2], dS2[2][2];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) T[i][j] = G[i][0] * Ci[0][j] + G[i][1] * Ci[1][j];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) dS2[i][j] = -(Ci[i][0] * T[0][j] + Ci[i][1] * T[1][j]);
    // cov2d = J Sc J^T (+ dilation): dSc = J^T dS2 J ; dJ = 2 dS2 J Sc
    float dS2J[2][3];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) dS2J[i][j] = dS2[i][0] * pr.J[0][j] + dS2[i][1] * pr.J[1][j];
    float dSc[3][3];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) dSc[i][j] = pr.J[0][i] * dS2J[0][j] + pr.J[1][i] * dS2J[1][j];
    float dJ[2][3];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            dJ[i][j] = 2.f * (dS2J[i][0] * pr.Sc.m[0][j] + dS2J[i][1] * pr.Sc.m[1][j] + dS2J[i][2] * pr.Sc.m[2][j]);
    // camera-space mean; J[.][2] = -f r / z with r = x / z, or r fixed at the limit when clamped
    const float rx = x * iz, ry = y * iz;
    const bool in_x = rx >= -c.lim_x && rx <= c.lim_x, in_y = ry >= -c.lim_y && ry <= c.lim_y;
    const float rcx = fminf(fmaxf(rx, -c.lim_x), c.lim_x), rcy = fminf(fmaxf(ry, -c.lim_y), c.lim_y);
    float vp[3];
    vp[0] = v_mean2d[0] * c.fx * iz - (in_x ? dJ[0][2] * c.fx * iz2 : 0.f);
    vp[1] = v_mean2d[1] * c.fy * iz - (in_y ? dJ[1][2] * c.fy * iz2 : 0.f);
    vp[2] = -v_mean2d[0] * c.fx * x * iz2 - v_mean2d[1] * c.fy * y * iz2 + v_depth - dJ[0][0] * c.fx * iz2 +
            dJ[0][2] * (in_x ? 2.f : 1.f) * c.fx * rcx * iz2 - dJ[1][1] * c.fy * iz2 +
            dJ[1][2] * (in_y ? 2.f : 1.f) * c.fy * rcy * iz2;
    for (int j = 0; j < 3; ++j) v_mean[j] = c.R[0][j] * vp[0] + c.R[1][j] * vp[1] + c.R[2][j] * vp[2];
    // world covariance: dSigma = Rv^T dSc Rv
    float Tm[3][3], dSig[3][3];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) Tm[i][j] = dSc[i][0] * c.R[0][j] + dSc[i][1] * c.R[1][j] + dSc[i][2] * c.R[2][j];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) dSig[i][j] = c.R[0][i] * Tm[0][j] + c.R[1][i] * Tm[1][j] + c.R[2][i] * Tm[2][j];
    // Sigma = M M^T: dM = 2 dSigma M ; M = R diag(s)
    Mat3 dR;
    for (int j = 0; j < 3; ++j) v_scale[j] = 0.f;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            const float dM = 2.f * (dSig[i][0] * pr.M.m[0][j] + dSig[i][1] * pr.M.m[1][j] + dSig[i][2] * pr.M.m[2][j]);
            v_scale[j] += dM * pr.R.m[i][j];
            dR.m[i][j] = dM * scale[j];
        }
    float dqn[4];
    quat_to_rotmat_vjp(pr.qn, dR, dqn);
    if (!(pr.qnorm > QUAT_MIN_NORM)) {  // q / QUAT_MIN_NORM: the constant divisor's gradient alone
        for (int i = 0; i < 4; ++i) v_quat[i] = dqn[i] / QUAT_MIN_NORM;
        return;
    }
    const float dot = dqn[0] * pr.qn[0] + dqn[1] * pr.qn[1] + dqn[2] * pr.qn[2] + dqn[3] * pr.qn[3];
    const float inv = 1.f / pr.qnorm;
    for (int i = 0; i < 4; ++i) v_quat[i] = (dqn[i] - pr.qn[i] * dot) * inv;
}

// ---------------------------------------------------------------- footprint
// Axis-aligned half extents (pixels) of the region where alpha >= 1/255, from the
// opacity-aware extent sqrt(2 ln(255 opacity)) standard deviations. Returns false
// when the Gaussian can never reach 1/255.
GS_HD bool footprint(const float cov2d[3], float opacity, float& rx, float& ry) {
    if (!(opacity * 255.f >= 1.f)) return false;
    const float q = 2.f * logf(opacity * 255.f);
    // small relative and absolute margin so float rounding never loses a pixel
    rx = sqrtf(q * cov2d[0]) * 1.001f + 0.01f;
    ry = sqrtf(q * cov2d[2]) * 1.001f + 0.01f;
    return true;
}

// Tile rectangle [x0, x1) x [y0, y1) of pixel centres (u + 0.5, v + 0.5) within the
// half extents. Returns false when it touches no tile of the image.
GS_HD bool tile_rect(const float mean2d[2], float rx, float ry, int width, int height, int rect[4]) {
    const int tiles_x = (width + TILE - 1) / TILE, tiles_y = (height + TILE - 1) / TILE;
    // pixel index range (continuous) whose centre lies inside the extent
    const float u0 = mean2d[0] - rx - 0.5f, u1 = mean2d[0] + rx - 0.5f;
    const float v0 = mean2d[1] - ry - 0.5f, v1 = mean2d[1] + ry - 0.5f;
    if (!(u1 >= 0.f && v1 >= 0.f && u0 <= (float)(width - 1) && v0 <= (float)(height - 1))) return false;
    const float fu0 = fmaxf(u0, 0.f), fv0 = fmaxf(v0, 0.f);
    const float fu1 = fminf(u1, (float)(width - 1)), fv1 = fminf(v1, (float)(height - 1));
    rect[0] = (int)floorf(fu0 / TILE);
    rect[1] = (int)floorf(fv0 / TILE);
    rect[2] = (int)floorf(fu1 / TILE) + 1;
    rect[3] = (int)floorf(fv1 / TILE) + 1;
    if (rect[2] > tiles_x) rect[2] = tiles_x;
    if (rect[3] > tiles_y) rect[3] = tiles_y;
    return rect[2] > rect[0] && rect[3] > rect[1];
}

// ---------------------------------------------------------------- blending
// power = -0.5 d^T conic d with d = pixel centre - mean
GS_HD float gauss_power(const float conic[3], float dx, float dy) {
    return -0.5f * (conic[0] * dx * dx + conic[2] * dy * dy) - conic[1] * dx * dy;
}

// Per-Gaussian gradient contribution of one pixel, given dL/dalpha for this Gaussian.
// Accumulates into v_mean2d[2], v_conic[3], v_opacity.
GS_HD void alpha_vjp(const float conic[3], float opacity, float dx, float dy, float G, float v_alpha, float v_mean2d[2],
                     float v_conic[3], float& v_opacity) {
    // alpha = min(0.99, opacity * G): no gradient where clamped
    if (opacity * G > ALPHA_MAX) return;
    v_opacity += G * v_alpha;
    const float v_G = opacity * v_alpha;
    const float gdx = G * dx, gdy = G * dy;
    // d = pixel - mean, so d/dmean = -d/dd
    v_mean2d[0] += v_G * (gdx * conic[0] + gdy * conic[1]);
    v_mean2d[1] += v_G * (gdy * conic[2] + gdx * conic[1]);
    v_conic[0] += -0.5f * gdx * dx * v_G;
    v_conic[1] += -gdx * dy * v_G;
    v_conic[2] += -0.5f * gdy * dy * v_G;
}

// ---------------------------------------------------------------- spherical harmonics
// Real SH basis up to degree 3 along unit direction (x, y, z); writes (deg+1)^2 values
// and, when dY != nullptr, their derivatives dY[k][0..2] w.r.t. (x, y, z).
GS_HD void sh_basis(int deg, float x, float y, float z, float* Y, float (*dY)[3]) {
    const float C2[5] = {1.0925484305920792f, -1.0925484305920792f, 0.31539156525252005f, -1.0925484305920792f,
                         0.5462742152960396f};
    const float C3[7] = {-0.5900435899266435f, 2.890611442640554f, -0.4570457994644658f, 0.3731763325901154f,
                         -0.4570457994644658f, 1.445305721320277f, -0.5900435899266435f};
    // clang-format off: each gradient line is the row dY[k] of one basis function
    Y[0] = SH_C0;
    if (dY) { dY[0][0] = 0.f; dY[0][1] = 0.f; dY[0][2] = 0.f; }
    if (deg < 1) return;
    Y[1] = -SH_C1 * y; Y[2] = SH_C1 * z; Y[3] = -SH_C1 * x;
    if (dY) {
        dY[1][0] = 0.f; dY[1][1] = -SH_C1; dY[1][2] = 0.f;
        dY[2][0] = 0.f; dY[2][1] = 0.f; dY[2][2] = SH_C1;
        dY[3][0] = -SH_C1; dY[3][1] = 0.f; dY[3][2] = 0.f;
    }
    if (deg < 2) return;
    const float xx = x * x, yy = y * y, zz = z * z, xy = x * y, yz = y * z, xz = x * z;
    Y[4] = C2[0] * xy; Y[5] = C2[1] * yz; Y[6] = C2[2] * (2.f * zz - xx - yy); Y[7] = C2[3] * xz;
    Y[8] = C2[4] * (xx - yy);
    if (dY) {
        dY[4][0] = C2[0] * y; dY[4][1] = C2[0] * x; dY[4][2] = 0.f;
        dY[5][0] = 0.f; dY[5][1] = C2[1] * z; dY[5][2] = C2[1] * y;
        dY[6][0] = -2.f * C2[2] * x; dY[6][1] = -2.f * C2[2] * y; dY[6][2] = 4.f * C2[2] * z;
        dY[7][0] = C2[3] * z; dY[7][1] = 0.f; dY[7][2] = C2[3] * x;
        dY[8][0] = 2.f * C2[4] * x; dY[8][1] = -2.f * C2[4] * y; dY[8][2] = 0.f;
    }
    if (deg < 3) return;
    Y[9] = C3[0] * y * (3.f * xx - yy);
    Y[10] = C3[1] * xy * z;
    Y[11] = C3[2] * y * (4.f * zz - xx - yy);
    Y[12] = C3[3] * z * (2.f * zz - 3.f * xx - 3.f * yy);
    Y[13] = C3[4] * x * (4.f * zz - xx - yy);
    Y[14] = C3[5] * z * (xx - yy);
    Y[15] = C3[6] * x * (xx - 3.f * yy);
    if (dY) {
        dY[9][0] = 6.f * C3[0] * xy; dY[9][1] = C3[0] * (3.f * xx - 3.f * yy); dY[9][2] = 0.f;
        dY[10][0] = C3[1] * yz; dY[10][1] = C3[1] * xz; dY[10][2] = C3[1] * xy;
        dY[11][0] = -2.f * C3[2] * xy; dY[11][1] = C3[2] * (4.f * zz - xx - 3.f * yy); dY[11][2] = 8.f * C3[2] * yz;
        dY[12][0] = -6.f * C3[3] * xz; dY[12][1] = -6.f * C3[3] * yz; dY[12][2] = C3[3] * (6.f * zz - 3.f * xx - 3.f * yy);
        dY[13][0] = C3[4] * (4.f * zz - 3.f * xx - yy); dY[13][1] = -2.f * C3[4] * xy; dY[13][2] = 8.f * C3[4] * xz;
        dY[14][0] = 2.f * C3[5] * xz; dY[14][1] = -2.f * C3[5] * yz; dY[14][2] = C3[5] * (xx - yy);
        dY[15][0] = C3[6] * (3.f * xx - 3.f * yy); dY[15][1] = -6.f * C3[6] * xy; dY[15][2] = 0.f;
    }
    // clang-format on
}

// colour = max(sum_k Y_k coeffs[k] + 0.5, 0) along normalize(mean - campos).
// coeffs: [K][3] with K >= (deg+1)^2. Writes rgb[3] and a 3-bit clamp mask.
GS_HD void sh_to_color(int deg, int K, const float* coeffs, const float mean[3], const float campos[3], float rgb[3],
                       uint8_t& clamped) {
    float d[3] = {mean[0] - campos[0], mean[1] - campos[1], mean[2] - campos[2]};
    const float n = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    const float inv = n > 0.f ? 1.f / n : 0.f;
    float Y[16];
    sh_basis(deg, d[0] * inv, d[1] * inv, d[2] * inv, Y, nullptr);
    const int nb = (deg + 1) * (deg + 1);
    clamped = 0;
    for (int ch = 0; ch < 3; ++ch) {
        float s = 0.f;
        for (int k = 0; k < nb; ++k) s += Y[k] * coeffs[k * 3 + ch];
        s += 0.5f;
        if (s < 0.f) {
            s = 0.f;
            clamped |= (uint8_t)(1u << ch);
        }
        rgb[ch] = s;
    }
    (void)K;
}

// VJP of sh_to_color: writes v_coeffs[K][3] (zeros beyond degree) and adds to v_mean[3].
GS_HD void sh_to_color_vjp(int deg, int K, const float* coeffs, const float mean[3], const float campos[3],
                           uint8_t clamped, const float v_rgb[3], float* v_coeffs, float v_mean[3]) {
    float d[3] = {mean[0] - campos[0], mean[1] - campos[1], mean[2] - campos[2]};
    const float n = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    const float inv = n > 0.f ? 1.f / n : 0.f;
    const float u[3] = {d[0] * inv, d[1] * inv, d[2] * inv};
    float Y[16];
    float dY[16][3];
    sh_basis(deg, u[0], u[1], u[2], Y, dY);
    const int nb = (deg + 1) * (deg + 1);
    float g[3];
    for (int ch = 0; ch < 3; ++ch) g[ch] = (clamped >> ch) & 1u ? 0.f : v_rgb[ch];
    float v_u[3] = {0.f, 0.f, 0.f};
    for (int k = 0; k < K; ++k) {
        if (k >= nb) {
            for (int ch = 0; ch < 3; ++ch) v_coeffs[k * 3 + ch] = 0.f;
            continue;
        }
        float cg = 0.f;
        for (int ch = 0; ch < 3; ++ch) {
            v_coeffs[k * 3 + ch] = Y[k] * g[ch];
            cg += coeffs[k * 3 + ch] * g[ch];
        }
        for (int j = 0; j < 3; ++j) v_u[j] += cg * dY[k][j];
    }
    // u = d / |d|: du/dd = (I - u u^T) / |d|
    const float dot = v_u[0] * u[0] + v_u[1] * u[1] + v_u[2] * u[2];
    for (int j = 0; j < 3; ++j) v_mean[j] += (v_u[j] - u[j] * dot) * inv;
}

// ---------------------------------------------------------------- per-Gaussian stage bodies
// The CPU loops and the CUDA kernels call these for Gaussian i.

GS_HD void project_forward_one(int64_t i, const float* means, const float* quats, const float* scales,
                               const float* opacities, const Cam& cam, int width, int height, float* means2d,
                               float* conics, float* depths, int32_t* radii, int32_t* rects) {
    Projected pr;
    float rx = 0.f, ry = 0.f;
    int rect[4] = {0, 0, 0, 0};
    const bool ok = project_gaussian(means + 3 * i, quats + 4 * i, scales + 3 * i, cam, pr) &&
                    footprint(pr.cov2d, opacities[i], rx, ry) && tile_rect(pr.mean2d, rx, ry, width, height, rect);
    if (!ok) {
        radii[i] = 0;
        for (int k = 0; k < 4; ++k) rects[4 * i + k] = 0;
        means2d[2 * i] = means2d[2 * i + 1] = 0.f;
        conics[3 * i] = conics[3 * i + 1] = conics[3 * i + 2] = 0.f;
        depths[i] = 0.f;
        return;
    }
    const float r = ceilf(fmaxf(rx, ry));
    radii[i] = r > 1e9f ? 1000000000 : (int32_t)r;
    for (int k = 0; k < 4; ++k) rects[4 * i + k] = rect[k];
    means2d[2 * i] = pr.mean2d[0];
    means2d[2 * i + 1] = pr.mean2d[1];
    for (int k = 0; k < 3; ++k) conics[3 * i + k] = pr.conic[k];
    depths[i] = pr.p[2];
}

GS_HD void project_backward_one(int64_t i, const float* means, const float* quats, const float* scales, const Cam& cam,
                                const int32_t* radii, const float* v_means2d, const float* v_conics,
                                const float* v_depths, float* v_means, float* v_quats, float* v_scales) {
    float vm[3] = {0.f, 0.f, 0.f}, vq[4] = {0.f, 0.f, 0.f, 0.f}, vs[3] = {0.f, 0.f, 0.f};
    Projected pr;
    if (radii[i] > 0 && project_gaussian(means + 3 * i, quats + 4 * i, scales + 3 * i, cam, pr))
        project_gaussian_vjp(scales + 3 * i, cam, pr, v_means2d + 2 * i, v_conics + 3 * i, v_depths[i], vm, vq, vs);
    for (int k = 0; k < 3; ++k) v_means[3 * i + k] = vm[k];
    for (int k = 0; k < 4; ++k) v_quats[4 * i + k] = vq[k];
    for (int k = 0; k < 3; ++k) v_scales[3 * i + k] = vs[k];
}

GS_HD void sh_forward_one(int64_t i, int deg, int Kc, const float* coeffs, const float* means, const float campos[3],
                          const int32_t* radii, float* colors, uint8_t* clamped) {
    if (radii[i] <= 0) {
        colors[3 * i] = colors[3 * i + 1] = colors[3 * i + 2] = 0.f;
        clamped[i] = 0;
        return;
    }
    sh_to_color(deg, Kc, coeffs + (int64_t)Kc * 3 * i, means + 3 * i, campos, colors + 3 * i, clamped[i]);
}

GS_HD void sh_backward_one(int64_t i, int deg, int Kc, const float* coeffs, const float* means, const float campos[3],
                           const int32_t* radii, const uint8_t* clamped, const float* v_colors, float* v_coeffs,
                           float* v_means) {
    float* vc = v_coeffs + (int64_t)Kc * 3 * i;
    float vm[3] = {0.f, 0.f, 0.f};
    if (radii[i] <= 0) {
        for (int k = 0; k < Kc * 3; ++k) vc[k] = 0.f;
    } else {
        sh_to_color_vjp(deg, Kc, coeffs + (int64_t)Kc * 3 * i, means + 3 * i, campos, clamped[i], v_colors + 3 * i, vc,
                        vm);
    }
    for (int k = 0; k < 3; ++k) v_means[3 * i + k] = vm[k];
}

// campos from a viewmat pointer
GS_HD void campos_of(const float* viewmat, float campos[3]) {
    const float Kid[9] = {1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f};
    cam_center(make_cam(viewmat, Kid), campos);
}

}  // namespace gs
