"""Compile and load the rasterizer kernels.

`load_extension()` builds the torch extension (C++ CPU kernels always; CUDA kernels too
when torch has CUDA and nvcc is found) with `torch.utils.cpp_extension.load`, cached in a
folder keyed by the torch version and a hash of the sources, so a second call (or a second
process) only loads the library. `compile_cuda_objects()` runs nvcc on every .cu file
without torch, so machines with a CPU-only torch still catch CUDA compile errors.

The build folder is keyed by the torch version (and CPU/CUDA); ninja rebuilds exactly the
sources whose content changed, and the hash of the sources is written beside the library.
Cache folder: `$GS_CACHE_DIR` when set; else `<repo>/build/cuda_ext/` in a writable source
checkout; else `~/.cache/gaussian_scenes/cuda_ext`.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sysconfig
import threading
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
_LOCK = threading.Lock()
_MODULE = None


def _sources(pattern: str) -> list[Path]:
    return sorted(CSRC.rglob(pattern))


def _source_hash(with_cuda: bool) -> str:
    h = hashlib.sha256()
    files = _sources("*.h") + _sources("*.cpp") + (_sources("*.cu") if with_cuda else [])
    for p in sorted(files):
        h.update(str(p.relative_to(CSRC)).encode())
        h.update(p.read_bytes())
    h.update(b"cuda" if with_cuda else b"cpu")
    return h.hexdigest()[:16]


def cache_root() -> Path:
    env = os.environ.get("GS_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "cuda_ext"
    repo = HERE.parent
    if (repo / "build.py").exists() and os.access(repo, os.W_OK):
        return repo / "build" / "cuda_ext"
    return Path.home() / ".cache" / "gaussian_scenes" / "cuda_ext"


def _cuda_wanted() -> bool:
    import torch
    from torch.utils import cpp_extension

    return bool(torch.cuda.is_available() and torch.version.cuda and cpp_extension.CUDA_HOME)


def load_extension(verbose: bool = False):
    """Compile (first time) and import the kernel module; returns it. Thread-safe, cached."""
    global _MODULE
    with _LOCK:
        if _MODULE is not None:
            return _MODULE
        import torch
        from torch.utils import cpp_extension

        with_cuda = _cuda_wanted()
        tv = torch.__version__.replace("+", "_").replace(".", "_")
        # A fixed module name per torch version lets ninja rebuild only the files whose
        # content changed (the torch-free kernel files compile in seconds, the bindings in
        # about a minute); the source hash is recorded beside the library.
        name = f"gs_raster_{'cuda' if with_cuda else 'cpu'}"
        build_dir = cache_root() / f"torch{tv}_{'cuda' if with_cuda else 'cpu'}"
        build_dir.mkdir(parents=True, exist_ok=True)
        sources = [str(p) for p in _sources("*.cpp")]
        cflags = ["-O3", "-fno-math-errno", "-fopenmp"]
        ldflags = ["-fopenmp"]
        cuda_flags: list[str] = []
        if with_cuda:
            sources += [str(p) for p in _sources("*.cu")]
            cflags.append("-DWITH_CUDA")
            cuda_flags = ["-O3", "-DWITH_CUDA", "-lineinfo"]
        if os.name == "nt":  # MSVC spells these differently
            cflags = ["/O2", "/openmp", "/std:c++17"] + (["/DWITH_CUDA"] if with_cuda else [])
            ldflags = []
        with _build_dir_lock(build_dir):
            _MODULE = cpp_extension.load(
                name=name, sources=sources, extra_cflags=cflags, extra_ldflags=ldflags,
                extra_cuda_cflags=cuda_flags or None, extra_include_paths=[str(CSRC)],
                build_directory=str(build_dir), with_cuda=with_cuda, verbose=verbose)
        (build_dir / "sources.sha256").write_text(_source_hash(with_cuda) + "\n")
        return _MODULE


@contextmanager
def _build_dir_lock(build_dir: Path):
    """Hold an OS lock on build_dir while torch builds or loads the module there, and remove torch's
    own lock file ("lock") if one is left: torch waits forever on that file, and a process killed
    while holding it (kill -9 during a training's start) leaves it behind. The OS lock is released
    when its holder dies, so under it any "lock" file is a dead process's."""
    with open(build_dir / ".gs-build.lock", "a+b") as fh:
        if os.name == "nt":
            import msvcrt

            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            (build_dir / "lock").unlink(missing_ok=True)
            yield
        finally:
            if os.name == "nt":
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)



def compile_cuda_objects(out_dir, archs=("80", "90")) -> list[str]:
    """nvcc -c every .cu file for the given SM architectures (no torch needed). Returns the .o paths.

    Raises RuntimeError with nvcc's output when a file does not compile.
    """
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        raise RuntimeError("nvcc not found on PATH: cannot compile the CUDA kernels")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gencode = []
    for a in archs:
        gencode += ["-gencode", f"arch=compute_{a},code=sm_{a}"]
    # Every .cu file may include any header: an object is current when it is newer than all sources.
    sources = list(_sources("*.cu")) + list(CSRC.rglob("*.h")) + list(CSRC.rglob("*.cuh"))
    newest_source = max(p.stat().st_mtime for p in sources)
    objs = []
    for cu in _sources("*.cu"):
        obj = out / (cu.stem + ".o")
        stamp = out / (cu.stem + ".archs")
        if obj.exists() and obj.stat().st_mtime >= newest_source and stamp.exists() \
                and stamp.read_text() == " ".join(gencode):
            objs.append(str(obj))
            continue
        cmd = [nvcc, "-c", str(cu), "-o", str(obj), "-O3", "-std=c++17", "-I", str(CSRC), *gencode]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"nvcc failed on {cu.relative_to(HERE)}:\n{proc.stdout}{proc.stderr}")
        stamp.write_text(" ".join(gencode))
        objs.append(str(obj))
    return objs


def _cuda_include_dir() -> Path | None:
    """The CUDA toolkit's include folder: $CUDA_HOME, $CUDA_PATH, then /usr/local/cuda."""
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root and (Path(root) / "include" / "cuda_runtime.h").exists():
            return Path(root) / "include"
    return None


def check_cuda_bindings(out_dir, source: Path = CSRC / "bindings.cpp") -> bool:
    """Compile bindings.cpp with WITH_CUDA for syntax and types only (no GPU, no CUDA torch needed),
    so the bindings' CUDA branches are checked on CPU-only machines. Returns False when there is
    no CUDA toolkit to check against; raises RuntimeError with the compiler's output on errors.
    """
    import torch
    from torch.utils import cpp_extension

    cuda_inc = _cuda_include_dir()
    if cuda_inc is None:
        return False
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256(torch.__version__.encode())
    for f in [Path(source), *_sources("*.h")]:
        h.update(f.read_bytes())
    key = h.hexdigest()
    stamp = out / "bindings_cuda_check.stamp"
    if stamp.exists() and stamp.read_text() == key:
        return True
    # a CPU build of torch lacks this generated header of its CUDA half; its one macro only
    # matters for linking, so an equivalent stand-in serves a syntax check
    stub = out / "stub_include"
    macros = stub / "c10" / "cuda" / "impl" / "cuda_cmake_macros.h"
    macros.parent.mkdir(parents=True, exist_ok=True)
    macros.write_text("#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n")
    includes = [*cpp_extension.include_paths(), str(CSRC), str(cuda_inc), sysconfig.get_paths()["include"], str(stub)]
    cmd = [os.environ.get("CXX", "c++"), "-std=c++17", "-fsyntax-only", "-w", "-DWITH_CUDA",
           "-DTORCH_EXTENSION_NAME=gs_raster_check", *[f"-I{p}" for p in includes], str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(source).name} does not compile with WITH_CUDA:\n{proc.stdout}{proc.stderr}")
    stamp.write_text(key)
    return True
