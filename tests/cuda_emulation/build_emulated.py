"""Build the rasterizer's torch extension with its CUDA kernels compiled for the CPU.

The .cu files are copied with their launch syntax rewritten (kernel<<<g, b, s, st>>>(args)
-> ::emu::launch(kernel, g, b, s, st)(args)) and compiled as C++ against the stand-in
headers in include/ (cuda_runtime.h, cub/cub.cuh). bindings.cpp is built with
GS_CUDA_EMULATION, so every stage takes its CUDA branch on CPU tensors: the module has the
same functions as the real one and can stand in for it in cuda_ext._wrapper.

Test-only: an emulation checks the kernels' logic (indexing, barriers, warp reductions,
binning and sort), not their behaviour on a GPU.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSRC = HERE.parent.parent / "cuda_ext" / "csrc"
_LAUNCH = re.compile(r"(\w+)<<<(.*?)>>>\(", re.S)


def emulated_source(cu_text: str) -> str:
    """A .cu file's text as C++ for the emulation: launches rewritten, ../ includes made flat."""
    text = _LAUNCH.sub(r"::emu::launch(\1, \2)(", cu_text)
    return text.replace('#include "../', '#include "')


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)  # unchanged files keep their time stamp, so ninja skips them


def load_emulated_extension(verbose: bool = False):
    """Compile (first time) and import the emulated-CUDA module. Linux/glibc only (ucontext)."""
    if not sys.platform.startswith("linux"):
        raise RuntimeError("the CUDA emulation needs Linux (ucontext fibers)")
    import torch
    from torch.utils import cpp_extension

    from cuda_ext import _build

    tv = torch.__version__.replace("+", "_").replace(".", "_")
    build_dir = _build.cache_root() / f"torch{tv}_cuda_emulated"
    gen_dir = build_dir / "emulated_src"
    gen_dir.mkdir(parents=True, exist_ok=True)
    sources = [str(CSRC / "bindings.cpp")] + [str(p) for p in sorted((CSRC / "cpu").glob("*.cpp"))]
    for cu in sorted((CSRC / "cuda").glob("*.cu")):
        out = gen_dir / f"{cu.stem}_cu.cpp"
        _write_if_changed(out, emulated_source(cu.read_text()))
        sources.append(str(out))
    return cpp_extension.load(
        name="gs_raster_cuda_emulated",
        sources=sources,
        extra_cflags=["-O2", "-fopenmp", "-DGS_CUDA_EMULATION", "-U_FORTIFY_SOURCE", "-Wno-unknown-pragmas"],
        extra_ldflags=["-fopenmp"],
        extra_include_paths=[str(HERE / "include"), str(CSRC), str(CSRC / "cuda")],
        build_directory=str(build_dir),
        with_cuda=False,
        verbose=verbose,
    )


def build_selftest_library(out_dir: Path) -> Path:
    """Compile selftest_kernels.cpp (kernels that check the emulation itself) into a shared library."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lib = out_dir / "emulation_selftest.so"
    src = HERE / "selftest_kernels.cpp"
    headers = list((HERE / "include").rglob("*"))
    newest = max(p.stat().st_mtime for p in [src, *headers] if p.is_file())
    if not lib.exists() or lib.stat().st_mtime < newest:
        cmd = [os.environ.get("CXX", "c++"), "-std=c++17", "-O2", "-U_FORTIFY_SOURCE", "-Wno-unknown-pragmas",
               "-shared", "-fPIC", "-I", str(HERE / "include"), str(src), "-o", str(lib)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
    return lib
