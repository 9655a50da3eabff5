#!/usr/bin/env python3
"""The single entry point of the project: set-up, build, package, demo, test, bench.

    python build.py setup   [--blender 4.2|4.5|5.2|5.3]   a project environment (.venv is 4.5)
    python build.py build                             compile cuda_ext (CPU; CUDA where possible)
    python build.py package                           dist/<id>-<version>.zip
    python build.py demo    [--blender ...]           the whole pipeline end to end
    python build.py test    [--blender ...] [-- PYTEST ARGS]   lint, build, the suites, the skip check
    python build.py bench   [--quick]                 bench/results.json
    python build.py lint                              ruff and clang-format (test runs them first)

Every subcommand is idempotent: finished steps are detected and skipped. This file runs
with any Python 3.9+; the work itself runs inside the project environments: one per Blender
series, each on the Python its ``bpy`` module is built for (3.11 for 4.x, 3.13 for 5.1+).
The default one (4.5) also holds torch and is the training interpreter for every Blender,
as a user's Blender hands training to an interpreter with torch.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
BUILD = ROOT / "build"

# Blender series -> (bpy module release, the Python it is built for, the numpy it accepts).
# Adding the next Blender release is one line here (and a CI run to see what changed).
BLENDERS = {
    "4.2": ("4.2.23", (3, 11), "numpy==1.26.4"),
    "4.5": ("4.5.15", (3, 11), "numpy==1.26.4"),
    "5.2": ("5.2.3", (3, 13), "numpy==2.3.5"),
    "5.3": ("5.3.0", (3, 13), "numpy==2.3.5"),
}
BPY_RELEASES = {series: spec[0] for series, spec in BLENDERS.items()}
DEFAULT_BLENDER = "4.5"  # its environment is also the training interpreter (torch)

# What every Blender environment needs besides bpy and numpy (Blender's own Python has no torch).
BLENDER_REQUIREMENTS = [
    "pytest==9.2.0",
    "pytest-blender==3.0.8",
    "tqdm==4.70.1",
    "OpenEXR==3.5.3",
    "zstandard==0.25.0",  # SPZ version 4 (zstd streams); the add-on reads and writes version 3 without it
]
# The training interpreter's additions: torch, the C++ build tools of cuda_ext, the lint tools.
TRAINING_REQUIREMENTS = [
    "torch==2.13.0",
    "ninja==1.13.2",  # fast, cached C++ builds of cuda_ext
    "ruff==0.17.6",  # python build.py lint: Python (configured in pyproject.toml)
    "clang-format==23.1.5",  # python build.py lint: C++/CUDA (configured in .clang-format)
    "ray==2.60.0",  # batch --backend ray (optional for users; its tests start a local cluster)
    "submitit==1.5.4",  # batch --backend slurm (optional for users)
]
REQUIREMENTS = TRAINING_REQUIREMENTS + BLENDER_REQUIREMENTS

# Independent splat tools the tests check our files against (npm, pinned; installed into build/npm).
NPM_TOOLS = ["@playcanvas/splat-transform@3.7.0", "gltf-validator@2.0.0-dev.3.10"]
NPM_PREFIX = BUILD / "npm"

# Top-level packages of the repository that the extension zip carries inside the add-on package
# (their absolute imports become relative there: see bundled_imports_relative).
BUNDLED_PACKAGES = ["procgen", "cuda_ext"]


class BuildError(RuntimeError):
    """A step failed; the message says which and why."""


def say(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    # An inline script prints as its first line only, to keep the log readable.
    say("$ " + " ".join(str(c).splitlines()[0] + (" ..." if "\n" in str(c) else "") for c in cmd))
    result = subprocess.run([str(c) for c in cmd], **kw)
    if result.returncode != 0:
        raise BuildError(f"command failed with exit code {result.returncode}: {' '.join(map(str, cmd))}")


# ----------------------------------------------------------------------------- environment

def venv_dir(blender: str) -> Path:
    return ROOT / (".venv" if blender == DEFAULT_BLENDER else f".venv-blender{blender}")


def venv_python(blender: str) -> Path:
    d = venv_dir(blender)
    return d / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_base_python(want: tuple[int, int]) -> list[str]:
    """An interpreter of Python ``want`` (3.11 for bpy 4.x, 3.13 for bpy 5.1+) to create an environment with."""
    if sys.version_info[:2] == want:
        return [sys.executable]
    version = "%d.%d" % want
    candidates = [["py", f"-{version}"]] if os.name == "nt" else []
    candidates += [[f"python{version}"], ["python3"]]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [[str(p)] for p in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))]
    for cand in candidates:
        exe = shutil.which(cand[0])
        if not exe:
            continue
        out = subprocess.run(cand + ["-c", "import sys;print('%d.%d'%sys.version_info[:2])"],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip() == version:
            return cand
    raise BuildError(f"Python {version} is required (the bpy module of this Blender is built for it) and none was "
                     f"found: not on PATH as python{version}, nor under {pyenv_root}/versions. Install Python "
                     f"{version} (for example `pyenv install {version}`) and run this again.")


def requirements(blender: str) -> list[str]:
    bpy_release, _, numpy_pin = BLENDERS[blender]
    extra = TRAINING_REQUIREMENTS if blender == DEFAULT_BLENDER else []
    return [f"bpy=={bpy_release}", numpy_pin] + extra + BLENDER_REQUIREMENTS


def setup(blender: str = DEFAULT_BLENDER) -> Path:
    """Create or update the project environment for one Blender series; returns its python."""
    if blender not in BLENDERS:
        raise BuildError(f"unsupported Blender version {blender!r}; choose one of {', '.join(BLENDERS)}")
    py = venv_python(blender)
    reqs = requirements(blender)
    stamp = venv_dir(blender) / ".gs-setup.json"
    wanted = {"requirements": reqs}
    if py.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        say(f"environment {venv_dir(blender).name} is up to date (bpy {BPY_RELEASES[blender]})")
        npm_tools()
        return py
    if not py.exists():
        say(f"creating environment {venv_dir(blender).name}")
        run(find_base_python(BLENDERS[blender][1]) + ["-m", "venv", str(venv_dir(blender))])
    say(f"installing {len(reqs)} pinned packages into {venv_dir(blender).name} (cached downloads are reused)")
    run([py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", *reqs])
    stamp.write_text(json.dumps(wanted, indent=1))
    npm_tools()
    return py


def npm_tools() -> bool:
    """Install NPM_TOOLS into build/npm (once); False, with a message, where node or npm is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        say("node/npm not found: skipping the independent splat tools (their tests will skip)")
        return False
    stamp = NPM_PREFIX / ".gs-npm.json"
    if stamp.exists() and json.loads(stamp.read_text()) == NPM_TOOLS:
        return True
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    run([npm, "install", "--prefix", NPM_PREFIX, "--no-audit", "--no-fund", "--save-exact", *NPM_TOOLS])
    stamp.write_text(json.dumps(NPM_TOOLS))
    say(f"installed {', '.join(NPM_TOOLS)} into {NPM_PREFIX.relative_to(ROOT)}")
    return True


def slurm_tools() -> bool:
    """apt-get install slurm-wlm and munge where missing (Linux, root): the batch tests start a real Slurm."""
    if shutil.which("slurmctld") and shutil.which("slurmd") and shutil.which("munged"):
        return True
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("apt-get"):
        say("Slurm is not installed and cannot be here (needs root and apt-get): the Slurm tests will skip")
        return False
    run(["bash", ROOT / ".ci" / "slurm.sh", "install"])
    return True


# ----------------------------------------------------------------------------- build

def build() -> None:
    """Compile cuda_ext in the training interpreter: CPU, and CUDA where torch and nvcc allow."""
    py = setup(DEFAULT_BLENDER)
    if not (ROOT / "cuda_ext" / "_build.py").exists():
        raise BuildError("cuda_ext/_build.py is missing: nothing to compile")
    script = (
        "# compile cuda_ext\n"
        "import sys, shutil, torch\n"
        "from cuda_ext import _build\n"
        "mod = _build.load_extension(verbose=True)\n"
        "print('[build] cuda_ext CPU kernels ready:', mod.__file__)\n"
        "if shutil.which('nvcc') and not torch.cuda.is_available():\n"
        "    objs = _build.compile_cuda_objects(sys.argv[1])\n"
        "    print('[build] nvcc compiled %d CUDA files for sm_80 and sm_90 (no GPU here, not linked)' % len(objs))\n"
        "    if _build.check_cuda_bindings(sys.argv[1]):\n"
        "        print('[build] the bindings compile with their CUDA branches')\n"
        "elif not shutil.which('nvcc'):\n"
        "    print('[build] nvcc not found: CUDA kernels not compiled')\n"
    )
    say("compiling cuda_ext (cached: only changed sources are rebuilt)")
    run([py, "-c", script, str(BUILD / "cuda_objects")], cwd=ROOT)


# ----------------------------------------------------------------------------- package

def read_manifest() -> dict:
    import tomllib  # Python 3.11+, present in the environment; build.py itself may run on older
    return tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))


def validate_manifest(m: dict) -> list[str]:
    """The rules Blender's extension validator applies; returns a list of problems."""
    problems = []
    for key in ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
                "blender_version_min", "license"):
        if key not in m:
            problems.append(f"missing required key '{key}'")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(m.get("id", ""))) or str(m.get("id", "")).startswith("_"):
        problems.append("id must be a Python identifier without a leading underscore")
    semver = r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?"
    for key in ("schema_version", "version", "blender_version_min"):
        if key in m and not re.fullmatch(semver, str(m[key])):
            problems.append(f"{key} must be a semantic version such as 1.0.0, got {m[key]!r}")
    tagline = str(m.get("tagline", ""))
    if len(tagline) > 64:
        problems.append(f"tagline is {len(tagline)} characters; at most 64")
    if tagline and not tagline[-1].isalnum() and tagline[-1] not in ")]}":
        problems.append("tagline must not end with punctuation")
    if m.get("type") not in ("add-on", "theme"):
        problems.append("type must be 'add-on' or 'theme'")
    lic = m.get("license")
    if not isinstance(lic, list) or not lic or not all(isinstance(x, str) and x.startswith("SPDX:") for x in lic):
        problems.append("license must be a non-empty list of 'SPDX:...' strings")
    elif not any(("GPL" in x and "LGPL" not in x) or x in ("SPDX:MIT", "SPDX:BSD-2-Clause", "SPDX:BSD-3-Clause")
                 for x in lic):
        problems.append("license must be GPL-compatible")
    perms = m.get("permissions", {})
    if not isinstance(perms, dict):
        problems.append("[permissions] must be a table of name = reason")
    else:
        for name, reason in perms.items():
            if name not in ("files", "network", "clipboard", "camera", "microphone"):
                problems.append(f"unknown permission '{name}'")
            if not isinstance(reason, str) or not reason.strip():
                problems.append(f"permission '{name}' needs a reason")
            elif len(reason) > 64 or reason.rstrip()[-1] in ".!?,;:":
                problems.append(f"permission '{name}': reason must be at most 64 characters "
                                    "without trailing punctuation")
    for whl in m.get("wheels", []):
        if not str(whl).startswith("./") or not str(whl).endswith(".whl"):
            problems.append(f"wheel path {whl!r} must be relative ('./...') and end in .whl")
    return problems


def bundled_imports_relative(source: str, depth: int, filename: str = "<source>") -> str:
    """``source`` of a module ``depth`` folders below the add-on package in the zip, with each absolute
    import of a BUNDLED_PACKAGES name made relative to the add-on package, where the zip puts them.

    ``from procgen.core import atomic`` -> ``from .procgen.core import atomic`` (depth 0),
    ``import cuda_ext`` -> ``from .. import cuda_ext`` (depth 1). ``import procgen.x`` without
    ``as`` binds ``procgen`` itself and has no relative form: it is refused, naming the line.
    """
    import ast

    lines = source.splitlines(keepends=True)
    dots = "." * (depth + 1)
    edits = []  # (line index, start column, end column, replacement), one statement each
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in BUNDLED_PACKAGES:
            head = re.compile(r"from\s+" + re.escape(node.module) + r"(?![\w.])").match(lines[node.lineno - 1],
                                                                                       node.col_offset)
            if head is None:
                raise BuildError(f"{filename}:{node.lineno}: cannot find 'from {node.module}' to make it relative")
            edits.append((node.lineno - 1, head.start(), head.end(), f"from {dots}{node.module}"))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] in BUNDLED_PACKAGES for a in node.names):
            alias = node.names[0]
            parent, _, name = alias.name.rpartition(".")
            if len(node.names) != 1 or node.end_lineno != node.lineno or (parent and not alias.asname):
                raise BuildError(f"{filename}:{node.lineno}: write 'import {alias.name}' as one 'import {alias.name}' "
                                 f"line, or as 'from {parent or alias.name} import ...', to bundle it")
            text = f"from {dots}{parent} import {name}" + (f" as {alias.asname}" if alias.asname else "")
            edits.append((node.lineno - 1, node.col_offset, node.end_col_offset, text))
    for index, start, end, text in sorted(edits, reverse=True):
        lines[index] = lines[index][:start] + text + lines[index][end:]
    return "".join(lines)


def _bundle_imports(stage: Path) -> int:
    """Make every absolute import of a bundled package in the staged add-on relative; returns the files changed."""
    changed = 0
    for path in sorted(stage.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(stage)
        new = bundled_imports_relative(source, len(rel.parts) - 1, rel.as_posix())
        if new != source:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def package() -> Path:
    """Write dist/<id>-<version>.zip: manifest and add-on at the root, procgen and cuda_ext inside it.

    procgen and cuda_ext travel as subpackages of the add-on, not as a wheel: a wheel would
    install them under generic top-level names into the site-packages every extension shares.
    The add-on imports them by their top-level names (as a source checkout has them); in the
    zip's copy those imports are made relative (``bundled_imports_relative``).
    """
    m = read_manifest()
    problems = validate_manifest(m)
    if problems:
        raise BuildError("blender_manifest.toml is not valid:\n  - " + "\n  - ".join(problems))
    out = DIST / f"{m['id']}-{m['version']}.zip"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.o")
    with tempfile.TemporaryDirectory(prefix="gs-package-") as tmp:
        stage = Path(tmp) / m["id"]
        shutil.copytree(ROOT / "blender_gs_addon", stage, ignore=skip)
        for pkg in BUNDLED_PACKAGES:
            shutil.copytree(ROOT / pkg, stage / pkg, ignore=skip)
        say(f"made the imports of {', '.join(BUNDLED_PACKAGES)} relative in {_bundle_imports(stage)} bundled files")
        shutil.copy2(ROOT / "blender_manifest.toml", stage / "blender_manifest.toml")
        DIST.mkdir(exist_ok=True)
        blender_exe = shutil.which("blender")
        if blender_exe:
            say(f"building the extension with {blender_exe} --command extension build")
            run([blender_exe, "--factory-startup", "--command", "extension", "build",
                 "--source-dir", str(stage), "--output-filepath", str(out)])
        else:
            say("no blender binary on PATH: writing the extension zip directly (same layout)")
            tmp_zip = out.with_suffix(".zip.tmp")
            with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in sorted(stage.rglob("*")):
                    if p.is_file():
                        zf.write(p, p.relative_to(stage).as_posix())
            os.replace(tmp_zip, out)
    say(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size / 1024:.0f} KiB)")
    return out


# ----------------------------------------------------------------------------- test

def prepare_blender_binary(py: Path, blender_executable: str) -> None:
    """Give a real Blender's bundled Python what the suite needs (numpy ships with Blender)."""
    out = subprocess.run([str(py), "-c", "import sys; from pytest_blender.utils import "
                          "get_blender_binary_path_python as g; print(g(sys.argv[1]))", blender_executable],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise BuildError(f"cannot find the Python inside {blender_executable}: {out.stderr.strip()}")
    blender_python = out.stdout.strip().splitlines()[-1]
    say(f"installing the test requirements into Blender's own Python {blender_python}")
    run([blender_python, "-m", "ensurepip", "--upgrade"])
    wanted = [r for r in REQUIREMENTS if not r.startswith(("numpy", "ruff", "clang-format"))]
    run([blender_python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", *wanted])


def training_env() -> dict:
    """Environment of a Blender process: the training interpreter (torch) is the default environment's."""
    return dict(os.environ, GS_TRAINING_PYTHON=str(venv_python(DEFAULT_BLENDER)))


# The tests that skip on the development machine, per Blender series: a run that skips any other fails
# (a skip nobody meant, such as a caught import error, must not pass quietly). GS_SKIP_CHECK=0 turns the
# check off on a machine that lacks what this one has (Node.js, Slurm, Ray).
EXPECTED_SKIPS = ROOT / "tests" / "expected_skips.txt"
SKIP_REPORT_ENV = "GS_SKIP_REPORT"  # tests/conftest.py writes the run's skips there


def parse_expected_skips(text: str) -> dict[str, set[str]]:
    """Blender series -> the test ids expected to skip, from lines ``SERIES[,SERIES...] TEST-ID REASON``."""
    expected: dict[str, set[str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            raise BuildError(f"{EXPECTED_SKIPS.name}:{n}: expected 'SERIES TEST-ID REASON', got {line!r}")
        for series in parts[0].split(","):
            if series not in BLENDERS:
                raise BuildError(f"{EXPECTED_SKIPS.name}:{n}: unknown Blender series {series!r}")
            expected.setdefault(series, set()).add(parts[1])
    return expected


def unexpected_skips(expected: dict[str, set[str]], series: str, skipped: list[dict]) -> list[dict]:
    """The skips of a run on ``series`` that the expected list does not name."""
    return [s for s in skipped if s["id"] not in expected.get(series, set())]


def check_skips(series: str, report: Path) -> str | None:
    """A failure message when the run on ``series`` skipped tests that EXPECTED_SKIPS does not list."""
    if os.environ.get("GS_SKIP_CHECK", "1") == "0" or not report.exists():
        return None
    skipped = json.loads(report.read_text(encoding="utf-8"))
    extra = unexpected_skips(parse_expected_skips(EXPECTED_SKIPS.read_text(encoding="utf-8")), series, skipped)
    say(f"Blender {series}: {len(skipped)} tests skipped, {len(extra)} of them not in {EXPECTED_SKIPS.name}")
    for s in extra:
        say(f"  unexpected skip: {s['id']}: {s['reason']}")
    if extra:
        return (f"Blender {series}: {len(extra)} skips not listed in tests/{EXPECTED_SKIPS.name} (listed above; "
                "fix the cause, or list the skip with its reason if it is meant)")
    return None


def _pytest(py: Path, args: list[str], blender_executable: str | None, skip_report: Path | None = None) -> int:
    cmd = [str(py), "-m", "pytest", *args]
    if blender_executable:
        prepare_blender_binary(py, blender_executable)
        cmd += ["--blender-executable", blender_executable]
    else:
        cmd += ["-p", "no:pytest-blender"]  # the suite runs on the bpy module of the environment
    say("$ " + " ".join(cmd))
    # Idle OpenMP threads that spin starve the other processes the tests start on a small machine.
    env = dict(training_env(), OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    if skip_report is not None:
        env[SKIP_REPORT_ENV] = str(skip_report)
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    if rc == 5:
        say("pytest collected no tests: that is a failure")
        return 1
    return rc


def test_plan(blender: str | None) -> list[tuple[str, list[str]]]:
    """(series, pytest marker args): the full suite on the default Blender, whose environment is also
    the training interpreter, and the Blender-facing subset on every other series."""
    series = [blender] if blender else list(BLENDERS)
    plan = [(v, [] if v == DEFAULT_BLENDER else ["-m", "blender"]) for v in series]
    return sorted(plan, key=lambda item: item[0] != DEFAULT_BLENDER)


def test(blender: str | None, extra: list[str], blender_executable: str | None) -> int:
    """Run the test plan; every series' environment is set up first, cuda_ext compiled once."""
    if os.environ.get("GS_LINT", "1") != "0":  # GS_LINT=0 skips it (e.g. while a change is half done)
        lint()
    build()
    slurm_tools()
    failures = []
    for version, marker in test_plan(blender):
        say(f"=== tests on Blender {version} ({'Blender-facing subset' if marker else 'full suite'}) ===")
        py = setup(version)
        report = BUILD / f"skips-blender{version}.json"
        report.unlink(missing_ok=True)
        BUILD.mkdir(exist_ok=True)
        rc = _pytest(py, ["tests", "-ra", *marker, *extra], blender_executable, report)
        if rc != 0:
            failures.append(f"Blender {version}: pytest exit code {rc}")
        skip_failure = check_skips(version, report)
        if skip_failure:
            failures.append(skip_failure)
    if failures:
        raise BuildError("tests failed: " + "; ".join(failures))
    say("all test runs passed")
    return 0


# ----------------------------------------------------------------------------- lint

CXX_DIRS = ["cuda_ext/csrc", "tests/cuda_emulation"]
CXX_SUFFIXES = {".cpp", ".h", ".cu", ".cuh"}


def cxx_sources() -> list[Path]:
    return sorted(p for d in CXX_DIRS for p in (ROOT / d).rglob("*") if p.suffix in CXX_SUFFIXES)


def lint() -> None:
    """ruff check on the Python code, clang-format --dry-run on the C++/CUDA code; both run, then
    BuildError names each that failed and how to fix it."""
    py = setup(DEFAULT_BLENDER)
    exe = ".exe" if os.name == "nt" else ""
    checks = [
        ("ruff", [py.parent / f"ruff{exe}", "check", "."],
         "ruff found problems (listed above; `ruff check --fix` repairs the fixable ones)"),
        ("clang-format", [py.parent / f"clang-format{exe}", "--dry-run", "--Werror", *cxx_sources()],
         "C++/CUDA code differs from .clang-format (listed above; `clang-format -i FILE` reformats it)"),
    ]
    failures = []
    for name, cmd, why in checks:
        say(f"lint: {name}")
        if subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode != 0:
            failures.append(why)
    if failures:
        raise BuildError("lint failed: " + "; ".join(failures))
    say(f"lint passed: ruff, and clang-format on {len(cxx_sources())} C++/CUDA files")


# ----------------------------------------------------------------------------- demo, bench

def demo(blender: str) -> None:
    build()
    py = setup(blender)
    run([py, "-m", "blender_gs_addon", "demo", "--out", str(ROOT / "demo_out")], cwd=ROOT, env=training_env())


def bench(blender: str, quick: bool) -> None:
    build()
    py = setup(blender)
    cmd = [py, str(ROOT / "bench" / "run_all.py"), "--out", str(ROOT / "bench" / "results.json")]
    run(cmd + (["--quick"] if quick else []), cwd=ROOT)


# ----------------------------------------------------------------------------- main

SUBCOMMANDS = {
    "setup": "create the project environment",
    "build": "compile cuda_ext",
    "package": "write the extension zip to dist/",
    "demo": "generate, render, train, import and report, end to end",
    "test": "lint, build, run the test suites, then check their skips against tests/expected_skips.txt",
    "bench": "run the benchmarks into bench/results.json",
    "lint": "check Python with ruff and C++/CUDA with clang-format",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, passthrough = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(prog="python build.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name not in ("package", "build", "lint"):
            p.add_argument("--blender", choices=sorted(BPY_RELEASES), default=None,
                           help=f"Blender series of the bpy module (default {DEFAULT_BLENDER})")
        if name == "test":
            p.add_argument("--blender-executable", default=None,
                           help="run the suite inside this Blender binary through pytest-blender")
        if name == "bench":
            p.add_argument("--quick", action="store_true", help="small sizes only, about a minute per section")
    args = parser.parse_args(argv)
    if sys.version_info < (3, 11) and args.cmd == "package":
        # Reading the manifest needs tomllib (3.11+): hand over to the project environment.
        return subprocess.call([str(setup(DEFAULT_BLENDER)), __file__, *argv])
    started = time.time()
    try:
        if args.cmd == "setup":
            setup(args.blender or DEFAULT_BLENDER)
            slurm_tools()
        elif args.cmd == "build":
            build()
        elif args.cmd == "package":
            package()
        elif args.cmd == "demo":
            demo(args.blender or DEFAULT_BLENDER)
        elif args.cmd == "test":
            test(args.blender, passthrough, args.blender_executable)
        elif args.cmd == "bench":
            bench(args.blender or DEFAULT_BLENDER, args.quick)
        elif args.cmd == "lint":
            lint()
    except BuildError as exc:
        print(f"[build] FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[build] interrupted", file=sys.stderr)
        return 130
    say(f"{args.cmd} finished in {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
