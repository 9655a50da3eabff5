"""Peer adapter: render the benchmark scene with a public GPU rasterizer package, for the
same-run comparison that the rasterizer benchmark makes on CUDA.

The peer's Python module name is given at run time (`bench_rasterizer.py --peer-module NAME`,
or the environment variable GS_BENCH_PEER_MODULE), never written here. The module must have
a top-level batched function

    rasterization(means [N,3], quats [N,4] (w,x,y,z), scales [N,3], opacities [N],
                  colors [N,K,3] SH coefficients, viewmats [C,4,4], Ks [C,3,3], width, height,
                  near_plane=, eps2d=, sh_degree=, packed=, tile_size=, backgrounds=,
                  render_mode=, rasterize_mode=)
      -> (render_colors [C,H,W,D], render_alphas [C,H,W,1], meta dict)

With render_mode "RGB+D" the last of the D = 4 channels is the accumulated view-space depth
sum_i w_i z_i: the same quantity as our `depth` output (not the expected depth, which
would be "RGB+ED"), so the benchmark loss rgb + alpha + 0.1 depth means the same for both.

Our conventions mapped onto the peer's arguments: one camera (C = 1), near plane 0.2,
0.3 added to the 2D covariance diagonal ("classic" mode, no antialiasing compensation),
16x16 tiles, SH evaluated along normalize(mean - camera centre) then +0.5 and clamped at 0
(the peer does the same when sh_degree is given), black background unless one is given.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Callable, Optional

from torch import Tensor

NEAR_PLANE = 0.2     # our cull depth
EPS_2D = 0.3         # added to the 2D covariance diagonal
TILE_SIZE = 16
RENDER_MODE = "RGB+D"  # RGB plus accumulated depth sum_i w_i z_i (our depth output)
PEER_ENV = "GS_BENCH_PEER_MODULE"
ARGUMENT_NAMES = ("means", "quats", "scales", "opacities", "colors", "viewmats", "Ks", "width", "height",
                  "near_plane", "eps2d", "sh_degree", "packed", "tile_size", "backgrounds", "render_mode",
                  "rasterize_mode")


class PeerError(RuntimeError):
    """The peer module is missing, lacks the expected function, or returns unexpected shapes."""


def load_peer(module_name: str):
    """Import the peer module by name; -> (module, version string). Raises PeerError."""
    if not module_name:
        raise PeerError("no peer module name given")
    try:
        mod = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or the package's own import-time failure
        raise PeerError(f"cannot import peer module {module_name!r}: {type(exc).__name__}: {exc}") from exc
    fn = getattr(mod, "rasterization", None)
    if not callable(fn):
        raise PeerError(f"peer module {module_name!r} has no callable top-level 'rasterization'")
    params = inspect.signature(fn).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        missing = [name for name in ARGUMENT_NAMES if name not in params]
        if missing:
            raise PeerError(f"peer {module_name}.rasterization lacks the arguments {missing}: "
                            "its calling convention differs from the one this adapter maps to")
    return mod, str(getattr(mod, "__version__", "unknown"))


def peer_arguments(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor,
                   viewmat: Tensor, K: Tensor, width: int, height: int, sh_degree: Optional[int],
                   background: Optional[Tensor] = None, packed: bool = True) -> dict:
    """Our single-camera arguments -> the peer's batched keyword arguments (one camera).

    means [N,3], quats [N,4], scales [N,3], opacities [N], colors [N,3] or [N,K,3] are passed
    through unchanged (same layouts); viewmat [4,4] -> viewmats [1,4,4]; K [3,3] -> Ks [1,3,3];
    background [3] -> backgrounds [1,3] (None stays None: black).
    """
    n = means.shape[0]
    if means.shape != (n, 3) or quats.shape != (n, 4) or scales.shape != (n, 3) or opacities.shape != (n,):
        raise ValueError(f"peer_arguments: unexpected shapes means {tuple(means.shape)}, quats "
                         f"{tuple(quats.shape)}, scales {tuple(scales.shape)}, opacities {tuple(opacities.shape)}")
    if viewmat.shape != (4, 4) or K.shape != (3, 3):
        raise ValueError(f"peer_arguments: viewmat must be [4,4] and K [3,3], got {tuple(viewmat.shape)}, "
                         f"{tuple(K.shape)}")
    return dict(
        means=means, quats=quats, scales=scales, opacities=opacities, colors=colors,
        viewmats=viewmat[None], Ks=K[None], width=width, height=height,
        near_plane=NEAR_PLANE, eps2d=EPS_2D, sh_degree=sh_degree, packed=packed, tile_size=TILE_SIZE,
        backgrounds=None if background is None else background[None],
        render_mode=RENDER_MODE, rasterize_mode="classic",
    )


def split_outputs(render_colors: Tensor, render_alphas: Tensor, width: int, height: int):
    """The peer's [1,H,W,4] colours+depth and [1,H,W,1] alphas -> our rgb [H,W,3], alpha [H,W,1],
    depth [H,W,1]. Raises PeerError on any other shape (a changed peer API must not pass silently)."""
    if tuple(render_colors.shape) != (1, height, width, 4) or tuple(render_alphas.shape) != (1, height, width, 1):
        raise PeerError(f"peer returned colours {tuple(render_colors.shape)} and alphas "
                        f"{tuple(render_alphas.shape)}; expected (1, {height}, {width}, 4) and "
                        f"(1, {height}, {width}, 1)")
    return render_colors[0, ..., :3], render_alphas[0], render_colors[0, ..., 3:4]


def make_peer_rasterize(mod, packed: bool = True) -> Callable:
    """A function with `cuda_ext.rasterize`'s signature and outputs that renders with the peer."""
    def peer_rasterize(means, quats, scales, opacities, colors, viewmat, K, width, height,
                       sh_degree=None, background=None):
        kwargs = peer_arguments(means, quats, scales, opacities, colors, viewmat, K, width, height,
                                sh_degree, background, packed)
        render_colors, render_alphas, meta = mod.rasterization(**kwargs)
        rgb, alpha, depth = split_outputs(render_colors, render_alphas, width, height)
        return rgb, alpha, depth, meta

    return peer_rasterize


def compare_images(ours, peer) -> dict:
    """Per-output differences between two (rgb, alpha, depth, ...) results on the same scene."""
    out = {}
    for name, a, b in zip(("rgb", "alpha", "depth"), ours[:3], peer[:3]):
        d = (a.detach().float() - b.detach().float()).abs()
        out[f"max_abs_diff_{name}"] = float(d.max()) if d.numel() else 0.0
        out[f"mean_abs_diff_{name}"] = float(d.mean()) if d.numel() else 0.0
        if name == "rgb":
            out["fraction_rgb_values_off_by_more_than_1e-3"] = float((d > 1e-3).float().mean()) if d.numel() else 0.0
    return out


def compare_gradients(grads_ours: dict, grads_peer: dict) -> dict:
    """Relative max difference of each input's gradient: max|g_peer - g_ours| / max|g_ours|."""
    out = {}
    for name, g in grads_ours.items():
        p = grads_peer.get(name)
        if g is None or p is None:
            out[f"grad_rel_max_diff_{name}"] = None
            continue
        scale = float(g.abs().max())
        diff = float((p.float() - g.float()).abs().max())
        out[f"grad_rel_max_diff_{name}"] = diff / scale if scale > 0 else diff
    return out
