// torch entry points: check inputs, allocate outputs, dispatch to the CPU kernels or,
// under WITH_CUDA, the CUDA kernels. The device of the inputs picks the kernel.
#include <torch/extension.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "gaussian_math.h"
#include "kernels.h"

#if defined(GS_CUDA_EMULATION)
// Test-only build (tests/cuda_emulation): the .cu kernels compiled as C++ for the CPU
// run on CPU tensors, so their logic is checked on machines without a GPU.
#define WITH_CUDA
#define GS_STREAM nullptr
#define GS_DEVICE_GUARD(t)
#elif defined(WITH_CUDA)
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define GS_STREAM ((void*)c10::cuda::getCurrentCUDAStream().stream())
#define GS_DEVICE_GUARD(t) const c10::cuda::CUDAGuard gs_device_guard((t).device())
#endif

using torch::Tensor;

// Whether t's stage runs the CUDA kernels (in the emulation build: always).
static bool runs_cuda_kernels(const Tensor& t) {
#if defined(GS_CUDA_EMULATION)
    (void)t;
    return true;
#else
    return t.is_cuda();
#endif
}

namespace {

constexpr bool kHaveCuda =
#ifdef WITH_CUDA
    true;
#else
    false;
#endif

std::string shape_str(const Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}

// One pass over the IEEE bits of a CPU float tensor: NaN and Inf are exactly the values
// whose exponent bits are all ones; outside [0, 1] (checked only when unit_range) are the
// bit patterns above 1.0f, which include every negative number, except -0.0. Integer ORs
// on 4-lane vectors (plain SSE2; the compiler does not find this by itself). Serial on
// purpose: memory-bound, and a parallel region costs more than it saves on a busy machine.
struct BitScan {
    bool finite, in_unit;
};
template <bool unit_range>
BitScan scan_bits_cpu(const Tensor& t) {
    typedef uint32_t v4u __attribute__((vector_size(16)));
    typedef int32_t v4i __attribute__((vector_size(16)));
    const Tensor c = t.contiguous();  // no copy when t already is
    const uint32_t* p = reinterpret_cast<const uint32_t*>(c.data_ptr<float>());
    const int64_t n = c.numel();
    const v4u expo = {0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u};
    const v4u carry = {0x00800000u, 0x00800000u, 0x00800000u, 0x00800000u};
    const v4u one = {0x3f800000u, 0x3f800000u, 0x3f800000u, 0x3f800000u};
    const v4u negzero = {0x80000000u, 0x80000000u, 0x80000000u, 0x80000000u};
    v4u nf[2] = {}, outside = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v4u u[2];
        __builtin_memcpy(u, p + i, sizeof(u));
        for (int k = 0; k < 2; ++k) {
            nf[k] |= (u[k] & expo) + carry;  // carries into the sign bit iff the exponent is all ones
            if (unit_range) outside |= (v4u)((v4i)(u[k] > one) & (v4i)(u[k] != negzero));
        }
    }
    const v4u nfv = nf[0] | nf[1];
    uint32_t nonfinite = nfv[0] | nfv[1] | nfv[2] | nfv[3];
    uint32_t out = outside[0] | outside[1] | outside[2] | outside[3];
    for (; i < n; ++i) {
        const uint32_t u = p[i];
        nonfinite |= (u & 0x7f800000u) + 0x00800000u;
        if (unit_range) out |= (uint32_t)(u > 0x3f800000u) & (uint32_t)(u != 0x80000000u);
    }
    return {(nonfinite & 0x80000000u) == 0, out == 0};
}

// A tensor whose values validate() checks once its shape, type and device are right.
struct ValueCheck {
    Tensor t;
    const char* name;
    bool unit_range;  // also require values in [0, 1]
};

void fail_values(const ValueCheck& c, bool finite, bool in_unit) {
    TORCH_CHECK_VALUE(finite, "rasterize: ", c.name, " contains NaN or Inf");
    TORCH_CHECK_VALUE(!c.unit_range || in_unit, "rasterize: ", c.name,
                      " must lie in [0, 1] (apply a sigmoid to logits)");
}

// NaN/Inf in any checked tensor, and the [0, 1] range where asked, raise ValueError naming
// the first bad tensor. CPU: the bit scan above, tensor by tensor. CUDA: every flag is
// computed on the device and read back with a single synchronisation (a sum is non-finite
// iff some element is, or the sum overflowed, which the exact check then settles).
void check_values(const std::vector<ValueCheck>& checks) {
    if (checks.empty()) return;
#if defined(GS_CUDA_EMULATION)
    const bool on_device = true;  // exercise the device path with CPU tensors
#else
    const bool on_device = !checks[0].t.device().is_cpu();
#endif
    if (!on_device) {
        for (const ValueCheck& c : checks) {
            if (c.t.numel() == 0) continue;
            const BitScan r = c.unit_range ? scan_bits_cpu<true>(c.t) : scan_bits_cpu<false>(c.t);
            fail_values(c, r.finite, r.in_unit);
        }
        return;
    }
    const Tensor yes = torch::ones({1}, checks[0].t.options().dtype(torch::kBool));
    std::vector<Tensor> flags;
    for (const ValueCheck& c : checks) {
        const bool empty = c.t.numel() == 0;
        flags.push_back(empty ? yes : torch::isfinite(c.t.detach().sum()).reshape({1}));
        if (c.unit_range) {
            if (empty) {
                flags.push_back(yes);
            } else {
                const auto mm = torch::aminmax(c.t.detach());
                flags.push_back(torch::logical_and(std::get<0>(mm) >= 0.f, std::get<1>(mm) <= 1.f).reshape({1}));
            }
        }
    }
    const Tensor host = torch::cat(flags).cpu();  // the one synchronisation
    const bool* f = host.data_ptr<bool>();
    for (const ValueCheck& c : checks) {
        bool finite = *f++;
        if (!finite) finite = torch::isfinite(c.t.detach()).all().item<bool>();  // overflowing sum of finite values
        const bool in_unit = c.unit_range ? *f++ : true;
        fail_values(c, finite, in_unit);
    }
}

// Shape, dtype and device of t; its values are queued in `values` for check_values.
void check_tensor(const Tensor& t, const char* name, const std::vector<int64_t>& shape, const Tensor& ref,
                  std::vector<ValueCheck>& values, bool unit_range = false) {
    // shape: -1 = any size
    bool ok = t.dim() == (int64_t)shape.size();
    for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || t.size(i) == shape[i];
    if (!ok) {
        std::string want = "[";
        for (size_t i = 0; i < shape.size(); ++i)
            want += (i ? ", " : "") + (shape[i] < 0 ? std::string("*") : std::to_string(shape[i]));
        TORCH_CHECK_VALUE(false, "rasterize: ", name, " must have shape ", want, "], got ", shape_str(t));
    }
    TORCH_CHECK_VALUE(t.scalar_type() == torch::kFloat32, "rasterize: ", name, " must be float32, got ",
                      t.scalar_type());
    TORCH_CHECK_VALUE(t.device() == ref.device(), "rasterize: ", name, " is on ", t.device(), " but means is on ",
                      ref.device(), " (all inputs must share one device)");
    values.push_back({t, name, unit_range});
}

// Whether this build runs tensors on d. The emulation runs its CUDA kernels on CPU tensors only.
bool build_runs(const c10::Device& d) {
#if defined(GS_CUDA_EMULATION)
    return d.is_cpu();
#else
    return d.is_cpu() || (d.is_cuda() && kHaveCuda);
#endif
}

const char* build_devices() {
#if defined(GS_CUDA_EMULATION)
    return "CPU tensors only, through the emulated CUDA kernels";
#else
    return kHaveCuda ? "CPU and CUDA tensors" : "CPU tensors only";
#endif
}

void check_device_supported(const Tensor& t) {
    TORCH_CHECK_VALUE(build_runs(t.device()), "rasterize: tensors on ", t.device(),
                      " are not supported by this build (", build_devices(), ")");
}

// A stage's tensor arguments, made contiguous in place. Stages are also called directly,
// without validate(): before anything is allocated, their tensors must share one device that
// some kernel can read. CUDA tensors in a build without CUDA pass here and are refused by the
// stage's CUDA branch (fail_without_cuda).
void stage_inputs(const char* stage, std::initializer_list<Tensor*> tensors,
                  c10::optional<Tensor>* optional = nullptr) {
    const c10::Device d = (*tensors.begin())->device();
    auto same = [&](const Tensor& t) {
        TORCH_CHECK_VALUE(t.device() == d, stage, ": all inputs must share one device, got ", d, " and ", t.device());
    };
    for (const Tensor* t : tensors) same(*t);
    if (optional && optional->has_value()) same(**optional);
    TORCH_CHECK_VALUE(build_runs(d) || (d.is_cuda() && !kHaveCuda), stage, ": tensors on ", d,
                      " are not supported by this build (", build_devices(), ")");
    for (Tensor* t : tensors) *t = t->contiguous();
    if (optional && optional->has_value()) **optional = (*optional)->contiguous();
}

#ifndef WITH_CUDA
// The #else of every CUDA branch: without it a CPU-only build would return unfilled outputs or
// run CPU code on device pointers.
void fail_without_cuda(const char* stage, const c10::Device& d) {
    TORCH_CHECK(false, stage, ": tensors on ", d, " need the CUDA kernels, but this module was built without CUDA",
                " (move the tensors to the CPU, or rebuild with a CUDA torch and nvcc: python build.py build)");
}
#endif

}  // namespace

// Calls gs::<kernel>_cuda(..., stream) or gs::<kernel>_cpu(...) with the same arguments, by the
// device of `t`. A macro because a build without CUDA declares no _cuda kernels, and because the
// arguments (data pointers) may only be evaluated in the branch that knows the device has kernels.
#ifdef WITH_CUDA
#define GS_CUDA_KERNEL(t, kernel, ...)             \
    do {                                           \
        GS_DEVICE_GUARD(t);                        \
        gs::kernel##_cuda(__VA_ARGS__, GS_STREAM); \
    } while (0)
#else
#define GS_CUDA_KERNEL(t, kernel, ...) fail_without_cuda(#kernel, (t).device())
#endif
#define GS_DISPATCH(t, kernel, ...)                 \
    do {                                            \
        if (runs_cuda_kernels(t))                   \
            GS_CUDA_KERNEL(t, kernel, __VA_ARGS__); \
        else                                        \
            gs::kernel##_cpu(__VA_ARGS__);          \
    } while (0)

// All user-facing checks in one place; the stage functions below trust their inputs.
void validate(const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& opacities,
              const Tensor& colors, const Tensor& viewmat, const Tensor& K, int64_t width, int64_t height,
              int64_t sh_degree, const c10::optional<Tensor>& background) {
    TORCH_CHECK_VALUE(means.dim() == 2 && means.size(1) == 3, "rasterize: means must have shape [N, 3], got ",
                      shape_str(means));
    const int64_t N = means.size(0);
    check_device_supported(means);
    std::vector<ValueCheck> values;
    check_tensor(means, "means", {N, 3}, means, values);
    check_tensor(quats, "quats", {N, 4}, means, values);
    check_tensor(scales, "scales", {N, 3}, means, values);
    check_tensor(opacities, "opacities", {N}, means, values, /*unit_range=*/true);
    if (sh_degree < 0) {
        check_tensor(colors, "colors (RGB, sh_degree=None)", {N, 3}, means, values);
    } else {
        TORCH_CHECK_VALUE(sh_degree <= 3, "rasterize: sh_degree must be None or 0..3, got ", sh_degree);
        const int64_t need = (sh_degree + 1) * (sh_degree + 1);
        TORCH_CHECK_VALUE(colors.dim() == 3 && colors.size(1) >= need,
                          "rasterize: colors must have shape [N, K, 3] with K >= ", need, " for sh_degree ", sh_degree,
                          ", got ", shape_str(colors));
        check_tensor(colors, "colors (SH)", {N, colors.size(1), 3}, means, values);
    }
    check_tensor(viewmat, "viewmat", {4, 4}, means, values);
    check_tensor(K, "K", {3, 3}, means, values);
    TORCH_CHECK_VALUE(width > 0 && height > 0, "rasterize: width and height must be positive, got ", width, "x",
                      height);
    TORCH_CHECK_VALUE(width <= 65536 && height <= 65536, "rasterize: image larger than 65536 pixels a side");
    if (background.has_value()) check_tensor(*background, "background", {3}, means, values);
    TORCH_CHECK_VALUE(N < ((int64_t)1 << 31), "rasterize: at most 2^31 - 1 Gaussians");
    check_values(values);
}

std::vector<Tensor> project_forward(Tensor means, Tensor quats, Tensor scales, Tensor opacities, Tensor viewmat,
                                    Tensor K, int64_t width, int64_t height) {
    stage_inputs("project_forward", {&means, &quats, &scales, &opacities, &viewmat, &K});
    const int64_t N = means.size(0);
    auto f = means.options();
    auto i32 = f.dtype(torch::kInt32);
    Tensor means2d = torch::empty({N, 2}, f), conics = torch::empty({N, 3}, f), depths = torch::empty({N}, f);
    Tensor radii = torch::empty({N}, i32), rects = torch::empty({N, 4}, i32);
    GS_DISPATCH(means, project_forward, N, means.data_ptr<float>(), quats.data_ptr<float>(), scales.data_ptr<float>(),
                opacities.data_ptr<float>(), viewmat.data_ptr<float>(), K.data_ptr<float>(), (int)width, (int)height,
                means2d.data_ptr<float>(), conics.data_ptr<float>(), depths.data_ptr<float>(),
                radii.data_ptr<int32_t>(), rects.data_ptr<int32_t>());
    return {means2d, conics, depths, radii, rects};
}

std::vector<Tensor> project_backward(Tensor means, Tensor quats, Tensor scales, Tensor viewmat, Tensor K, Tensor radii,
                                     Tensor v_means2d, Tensor v_conics, Tensor v_depths) {
    stage_inputs("project_backward", {&means, &quats, &scales, &viewmat, &K, &radii, &v_means2d, &v_conics, &v_depths});
    const int64_t N = means.size(0);
    Tensor v_means = torch::empty_like(means), v_quats = torch::empty_like(quats), v_scales = torch::empty_like(scales);
    GS_DISPATCH(means, project_backward, N, means.data_ptr<float>(), quats.data_ptr<float>(), scales.data_ptr<float>(),
                viewmat.data_ptr<float>(), K.data_ptr<float>(), radii.data_ptr<int32_t>(), v_means2d.data_ptr<float>(),
                v_conics.data_ptr<float>(), v_depths.data_ptr<float>(), v_means.data_ptr<float>(),
                v_quats.data_ptr<float>(), v_scales.data_ptr<float>());
    return {v_means, v_quats, v_scales};
}

std::vector<Tensor> sh_forward(Tensor coeffs, Tensor means, Tensor viewmat, Tensor radii, int64_t deg) {
    stage_inputs("sh_forward", {&coeffs, &means, &viewmat, &radii});
    const int64_t N = means.size(0);
    const int Kc = (int)coeffs.size(1);
    Tensor colors = torch::empty({N, 3}, means.options());
    Tensor clamped = torch::empty({N}, means.options().dtype(torch::kUInt8));
    GS_DISPATCH(means, sh_forward, N, (int)deg, Kc, coeffs.data_ptr<float>(), means.data_ptr<float>(),
                viewmat.data_ptr<float>(), radii.data_ptr<int32_t>(), colors.data_ptr<float>(),
                clamped.data_ptr<uint8_t>());
    return {colors, clamped};
}

std::vector<Tensor> sh_backward(Tensor coeffs, Tensor means, Tensor viewmat, Tensor radii, Tensor clamped,
                                Tensor v_colors, int64_t deg) {
    stage_inputs("sh_backward", {&coeffs, &means, &viewmat, &radii, &clamped, &v_colors});
    const int64_t N = means.size(0);
    const int Kc = (int)coeffs.size(1);
    Tensor v_coeffs = torch::empty_like(coeffs), v_means = torch::empty_like(means);
    GS_DISPATCH(means, sh_backward, N, (int)deg, Kc, coeffs.data_ptr<float>(), means.data_ptr<float>(),
                viewmat.data_ptr<float>(), radii.data_ptr<int32_t>(), clamped.data_ptr<uint8_t>(),
                v_colors.data_ptr<float>(), v_coeffs.data_ptr<float>(), v_means.data_ptr<float>());
    return {v_coeffs, v_means};
}

// -> tile_offsets [T+1] int64, isect_ids [M] int32
std::vector<Tensor> bin_gaussians(Tensor radii, Tensor rects, Tensor depths, int64_t width, int64_t height) {
    stage_inputs("bin_gaussians", {&radii, &rects, &depths});
    const int64_t N = radii.size(0);
    const int tx = (int)((width + gs::TILE - 1) / gs::TILE), ty = (int)((height + gs::TILE - 1) / gs::TILE);
    const int64_t T = (int64_t)tx * ty;
    auto i64 = radii.options().dtype(torch::kInt64);
    auto i32 = radii.options().dtype(torch::kInt32);
    if (runs_cuda_kernels(radii)) {
#ifdef WITH_CUDA
        GS_DEVICE_GUARD(radii);
        Tensor cum = torch::empty({N}, i64);
        size_t tb = gs::bin_temp_bytes_cuda(N, 0, tx, ty);
        Tensor temp = torch::empty({(int64_t)tb + 1}, radii.options().dtype(torch::kUInt8));
        const int64_t M = gs::bin_count_cuda(N, radii.data_ptr<int32_t>(), rects.data_ptr<int32_t>(),
                                             cum.data_ptr<int64_t>(), temp.data_ptr(), tb, GS_STREAM);
        Tensor tile_offsets = torch::empty({T + 1}, i64);
        Tensor isect_ids = torch::empty({M}, i32);
        Tensor keys = torch::empty({2, M}, i64);
        Tensor ids = torch::empty({M}, i32);
        tb = gs::bin_temp_bytes_cuda(N, M, tx, ty);
        temp = torch::empty({(int64_t)tb + 1}, radii.options().dtype(torch::kUInt8));
        uint64_t* kp = reinterpret_cast<uint64_t*>(keys.data_ptr<int64_t>());
        gs::bin_fill_cuda(N, M, radii.data_ptr<int32_t>(), rects.data_ptr<int32_t>(), depths.data_ptr<float>(),
                          cum.data_ptr<int64_t>(), tx, ty, kp, kp + M, ids.data_ptr<int32_t>(),
                          isect_ids.data_ptr<int32_t>(), temp.data_ptr(), tb, tile_offsets.data_ptr<int64_t>(),
                          isect_ids.data_ptr<int32_t>(), GS_STREAM);
        return {tile_offsets, isect_ids};
#else
        fail_without_cuda("bin_gaussians", radii.device());
#endif
    }
    Tensor tile_offsets = torch::empty({T + 1}, i64);
    const int64_t M = gs::bin_count_cpu(N, radii.data_ptr<int32_t>(), rects.data_ptr<int32_t>(), tx, ty,
                                        tile_offsets.data_ptr<int64_t>());
    TORCH_CHECK(M < ((int64_t)1 << 40), "rasterize: too many tile intersections (", M, ")");
    Tensor isect_ids = torch::empty({M}, i32);
    gs::bin_fill_cpu(N, radii.data_ptr<int32_t>(), rects.data_ptr<int32_t>(), depths.data_ptr<float>(), tx, ty,
                     tile_offsets.data_ptr<int64_t>(), isect_ids.data_ptr<int32_t>());
    return {tile_offsets, isect_ids};
}

namespace {
gs::RasterArgs raster_args(const Tensor& means2d, const Tensor& conics, const Tensor& colors, const Tensor& opacities,
                           const Tensor& depths, const c10::optional<Tensor>& background, const Tensor& tile_offsets,
                           const Tensor& isect_ids, int64_t width, int64_t height) {
    gs::RasterArgs a;
    a.means2d = means2d.data_ptr<float>();
    a.conics = conics.data_ptr<float>();
    a.colors = colors.data_ptr<float>();
    a.opacities = opacities.data_ptr<float>();
    a.depths = depths.data_ptr<float>();
    a.background = background.has_value() ? background->data_ptr<float>() : nullptr;
    a.tile_offsets = tile_offsets.data_ptr<int64_t>();
    a.isect_ids = isect_ids.data_ptr<int32_t>();
    a.width = (int)width;
    a.height = (int)height;
    return a;
}
}  // namespace

// -> rgb [H,W,3], alpha [H,W], depth [H,W], final_T [H,W], n_contrib [H,W] int32
std::vector<Tensor> raster_forward(Tensor means2d, Tensor conics, Tensor colors, Tensor opacities, Tensor depths,
                                   c10::optional<Tensor> background, Tensor tile_offsets, Tensor isect_ids,
                                   int64_t width, int64_t height) {
    stage_inputs("raster_forward", {&means2d, &conics, &colors, &opacities, &depths, &tile_offsets, &isect_ids},
                 &background);
    auto f = means2d.options();
    Tensor rgb = torch::empty({height, width, 3}, f), alpha = torch::empty({height, width}, f);
    Tensor depth = torch::empty({height, width}, f), final_T = torch::empty({height, width}, f);
    Tensor n_contrib = torch::empty({height, width}, f.dtype(torch::kInt32));
    // Pointers are taken inside a branch, after the device is known to have kernels.
    const auto args = [&] {
        return raster_args(means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids, width,
                           height);
    };
    GS_DISPATCH(means2d, raster_forward, args(), rgb.data_ptr<float>(), alpha.data_ptr<float>(),
                depth.data_ptr<float>(), final_T.data_ptr<float>(), n_contrib.data_ptr<int32_t>());
    return {rgb, alpha, depth, final_T, n_contrib};
}

// -> v_means2d [N,2], v_conics [N,3], v_colors [N,3], v_opacities [N], v_depths [N]
std::vector<Tensor> raster_backward(Tensor means2d, Tensor conics, Tensor colors, Tensor opacities, Tensor depths,
                                    c10::optional<Tensor> background, Tensor tile_offsets, Tensor isect_ids,
                                    int64_t width, int64_t height, Tensor final_T, Tensor n_contrib, Tensor v_rgb,
                                    Tensor v_alpha, Tensor v_depth, bool absgrad) {
    stage_inputs("raster_backward",
                 {&means2d, &conics, &colors, &opacities, &depths, &tile_offsets, &isect_ids, &final_T, &n_contrib,
                  &v_rgb, &v_alpha, &v_depth},
                 &background);
    const int64_t N = means2d.size(0);
    Tensor v_means2d = torch::zeros_like(means2d), v_conics = torch::zeros_like(conics);
    Tensor v_colors = torch::zeros_like(colors), v_opacities = torch::zeros_like(opacities);
    Tensor v_depths = torch::zeros_like(depths);
    Tensor v_means2d_abs = absgrad ? torch::zeros_like(means2d) : Tensor();
    // Pointers are taken inside a branch, after the device is known to have kernels.
    const auto args = [&] {
        return raster_args(means2d, conics, colors, opacities, depths, background, tile_offsets, isect_ids, width,
                           height);
    };
    GS_DISPATCH(means2d, raster_backward, args(), N, final_T.data_ptr<float>(), n_contrib.data_ptr<int32_t>(),
                v_rgb.data_ptr<float>(), v_alpha.data_ptr<float>(), v_depth.data_ptr<float>(),
                v_means2d.data_ptr<float>(), v_conics.data_ptr<float>(), v_colors.data_ptr<float>(),
                v_opacities.data_ptr<float>(), v_depths.data_ptr<float>(),
                absgrad ? v_means2d_abs.data_ptr<float>() : nullptr);
    return {v_means2d, v_conics, v_colors, v_opacities, v_depths, v_means2d_abs};
}

namespace {
// img and ref: float32 CPU tensors of one shape [H,W,C] (the fused SSIM has no CUDA kernel: CUDA
// tensors take the torch path of trainer/losses.py).
void check_ssim_images(const Tensor& img, const Tensor& ref) {
    TORCH_CHECK_VALUE(img.dim() == 3 && img.numel() > 0, "ssim: img must have shape [H, W, C], got ", shape_str(img));
    TORCH_CHECK_VALUE(ref.sizes() == img.sizes(), "ssim: ref must have img's shape ", shape_str(img), ", got ",
                      shape_str(ref));
    for (const Tensor* t : {&img, &ref}) {
        TORCH_CHECK_VALUE(t->device().is_cpu(), "ssim: the fused kernel takes CPU tensors, got ", t->device());
        TORCH_CHECK_VALUE(t->scalar_type() == torch::kFloat32, "ssim: images must be float32, got ", t->scalar_type());
    }
}
}  // namespace

// -> mean SSIM (0-dim float32), partials [3,H,W,C] for ssim_backward
std::vector<Tensor> ssim_forward(Tensor img, Tensor ref) {
    check_ssim_images(img, ref);
    img = img.contiguous();
    ref = ref.contiguous();
    const int H = (int)img.size(0), W = (int)img.size(1), C = (int)img.size(2);
    Tensor partials = torch::empty({3, H, W, C}, img.options());
    const double s =
        gs::ssim_forward_cpu(H, W, C, img.data_ptr<float>(), ref.data_ptr<float>(), partials.data_ptr<float>());
    return {torch::full({}, s, img.options()), partials};
}

// -> v_img [H,W,C] = grad * d mean SSIM / d img
Tensor ssim_backward(Tensor img, Tensor ref, Tensor partials, double grad) {
    check_ssim_images(img, ref);
    img = img.contiguous();
    ref = ref.contiguous();
    partials = partials.contiguous();
    TORCH_CHECK_VALUE(partials.dim() == 4 && partials.size(0) == 3 && partials.sizes().slice(1) == img.sizes() &&
                          partials.scalar_type() == torch::kFloat32 && partials.device().is_cpu(),
                      "ssim: partials must be ssim_forward's [3, H, W, C] float32, got ", shape_str(partials));
    Tensor v_img = torch::empty_like(img);
    gs::ssim_backward_cpu((int)img.size(0), (int)img.size(1), (int)img.size(2), img.data_ptr<float>(),
                          ref.data_ptr<float>(), partials.data_ptr<float>(), (float)grad, v_img.data_ptr<float>());
    return v_img;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.doc() = "Differentiable 3D Gaussian rasterizer kernels (CPU, and CUDA when built with it)";
    m.attr("with_cuda") = kHaveCuda;
    m.attr("tile_size") = gs::TILE;
    m.def(
        "cpu_isa", []() { return std::string(gs::cpu_tile_kernels_isa()); },
        "instruction set of the CPU tile kernels in use (avx512, avx2 or base)");
    m.def("validate", &validate);
    m.def("project_forward", &project_forward);
    m.def("project_backward", &project_backward);
    m.def("sh_forward", &sh_forward);
    m.def("sh_backward", &sh_backward);
    m.def("bin_gaussians", &bin_gaussians);
    m.def("raster_forward", &raster_forward);
    m.def("raster_backward", &raster_backward);
    m.def("ssim_forward", &ssim_forward);
    m.def("ssim_backward", &ssim_backward);
}
