"""The C++/CUDA half of `python build.py lint`: the sources follow .clang-format, and the check fails
on a file that does not. (`build.py test` runs both first; GS_LINT=0 skips them.)"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gs_build", ROOT / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

CLANG_FORMAT = Path(sys.executable).parent / ("clang-format.exe" if sys.platform == "win32" else "clang-format")
needs_clang_format = pytest.mark.skipif(not CLANG_FORMAT.exists(), reason="clang-format is installed by build.py setup")


# any C, C++ or CUDA file someone might add, so a new kind is not left out of the check
C_LIKE = {".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".inl", ".cu", ".cuh"}


def check(files: list[Path]) -> subprocess.CompletedProcess:
    cmd = [str(CLANG_FORMAT), "--dry-run", "--Werror", *map(str, files)]
    return subprocess.run(cmd, cwd=build.ROOT, capture_output=True, text=True)


def test_lint_covers_every_cpp_and_cuda_source():
    found = {p.relative_to(build.ROOT).as_posix() for p in build.cxx_sources()}
    for folder in build.CXX_DIRS:
        on_disk = [p for p in (build.ROOT / folder).rglob("*") if p.suffix in C_LIKE]
        sources = {p.relative_to(build.ROOT).as_posix() for p in on_disk}
        assert sources and sources <= found, sources - found
    assert any(f.endswith(".cu") for f in found) and any(f.endswith(".cuh") for f in found)


@needs_clang_format
def test_cpp_and_cuda_sources_follow_clang_format():
    result = check(build.cxx_sources())
    assert result.returncode == 0, result.stderr[-4000:]


@needs_clang_format
def test_clang_format_check_fails_on_a_misformatted_file(tmp_path):
    source = build.ROOT / "cuda_ext" / "csrc" / "cuda" / "cuda_check.cuh"
    bad = tmp_path / "bad.cuh"
    shutil.copy(build.ROOT / ".clang-format", tmp_path / ".clang-format")
    bad.write_text(source.read_text().replace("\n    ", "\n  ", 1) + "int  f (  ){return 0;}\n")
    result = check([bad])
    assert result.returncode != 0 and "bad.cuh" in result.stderr
