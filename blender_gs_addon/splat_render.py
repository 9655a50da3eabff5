"""Render splats with our rasterizer from one pinhole camera, here or in a training interpreter (bpy-free).

A Blender whose Python cannot import torch renders through a child process of the
training interpreter: the parent writes the rasterizer's inputs and the camera to a
temporary folder, the child (``python -m <package>.splat_render FOLDER``) writes
``image.npy`` there, and the parent reads it back.

    rgba = render_splats(data, viewmat, K, width, height)              # needs torch here
    rgba = render_in_child(python, env, data, viewmat, K, width, height)  # torch in ``python``

Images are RGBA float32 [H, W, 4], rows top-down, colours as trained (sRGB display values).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

INPUTS = "inputs.npz"
CAMERA = "camera.json"
IMAGE = "image.npy"


def render_inputs(data) -> dict[str, np.ndarray]:
    """SplatData -> what the rasterizer takes: means [N,3], quats [N,4], scales [N,3], alphas [N], colors [N,K,3]."""
    return {"means": data.means, "quats": data.quats, "scales": data.scales(), "alphas": data.alphas(),
            "colors": np.concatenate([data.sh_dc[:, None, :], data.sh_rest], axis=1)}


def rasterize_inputs(inputs: dict[str, np.ndarray], viewmat: np.ndarray, K: np.ndarray, width: int, height: int,
                     device: str = "auto", background=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Rasterize ``render_inputs`` output -> RGBA float32 [H, W, 4] (torch and the compiled kernels here)."""
    import torch

    from cuda_ext import rasterize

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(dev)

    colors = inputs["colors"]
    degree = int(round(np.sqrt(colors.shape[1]))) - 1
    with torch.no_grad():
        rgb, alpha, _, _ = rasterize(t(inputs["means"]), t(inputs["quats"]), t(inputs["scales"]),
                                     t(inputs["alphas"]), t(colors), t(viewmat), t(K), int(width), int(height),
                                     sh_degree=degree, background=t(np.asarray(background)))
    out = np.empty((height, width, 4), np.float32)
    out[..., :3] = rgb.cpu().numpy()
    out[..., 3] = alpha.cpu().numpy()[..., 0]
    return out


def render_splats(data, viewmat: np.ndarray, K: np.ndarray, width: int, height: int, device: str = "auto",
                  background=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Render SplatData in this process -> RGBA float32 [H, W, 4]."""
    return rasterize_inputs(render_inputs(data), viewmat, K, width, height, device, background)


def write_request(folder: str, data, viewmat, K, width: int, height: int, device: str = "auto",
                  background=(0.0, 0.0, 0.0)) -> None:
    """The child's inputs: the rasterizer's arrays (npz) and the camera (JSON)."""
    np.savez(os.path.join(folder, INPUTS), **render_inputs(data))
    camera = {"viewmat": np.asarray(viewmat, np.float64).tolist(), "K": np.asarray(K, np.float64).tolist(),
              "width": int(width), "height": int(height), "device": device,
              "background": [float(b) for b in background]}
    with open(os.path.join(folder, CAMERA), "w", encoding="utf-8") as f:
        json.dump(camera, f)


def render_request(folder: str) -> str:
    """Render the request in ``folder`` and write ``image.npy`` beside it (atomically) -> its path."""
    from procgen.core.atomic import atomic_path

    with open(os.path.join(folder, CAMERA), encoding="utf-8") as f:
        cam = json.load(f)
    with np.load(os.path.join(folder, INPUTS)) as npz:
        inputs = {k: npz[k] for k in npz.files}
    rgba = rasterize_inputs(inputs, np.array(cam["viewmat"], np.float32), np.array(cam["K"], np.float32),
                            cam["width"], cam["height"], cam.get("device", "auto"), cam.get("background", (0, 0, 0)))
    out = os.path.join(folder, IMAGE)
    with atomic_path(out, suffix=".npy") as tmp:
        np.save(tmp, rgba)
    return out


def render_in_child(python: str, env: dict | None, data, viewmat, K, width: int, height: int,
                    device: str = "auto", background=(0.0, 0.0, 0.0), package: str | None = None,
                    timeout: float | None = None) -> np.ndarray:
    """Render SplatData in a child process of ``python`` (which imports torch) -> RGBA float32 [H, W, 4].

    env: the child's environment (its PYTHONPATH must reach ``package``, this package by default).
    Raises RuntimeError with the child's last error lines when it fails.
    """
    from procgen.core.child_process import tied_env

    package = package or __name__.rpartition(".")[0]
    with tempfile.TemporaryDirectory(prefix="gs-render-") as folder:
        write_request(folder, data, viewmat, K, width, height, device, background)
        proc = subprocess.run([python, "-m", f"{package}.splat_render", folder], env=tied_env(env), capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise RuntimeError(f"the render process ({python}) failed with exit code {proc.returncode}: {tail}")
        return np.load(os.path.join(folder, IMAGE))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        print("usage: python -m <package>.splat_render FOLDER  (a folder holding inputs.npz and camera.json)",
              file=sys.stderr)
        return 2
    from procgen.core.child_process import tie_to_parent

    tie_to_parent()
    try:
        render_request(argv[0])
    except Exception as exc:  # one line for the parent to show, not a traceback
        print(f"render failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
