"""The docs name only what exists: every repository path, module and ``build.py`` subcommand in
README.md and docs/*.md is in the checkout (no Blender, no torch)."""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("blender_gs_addon", "procgen", "cuda_ext", "tests", "bench", "docs", ".ci")
TOP_FILES = ("build.py", "pyproject.toml", "blender_manifest.toml", "README.md", ".clang-format")
PACKAGES = ("blender_gs_addon", "procgen", "cuda_ext")
ADDON_PARTS = ("blender", "splats", "trainer", "batch")  # named without the add-on package: `blender.jobs`
GENERATED = {"bench/results.json"}  # written by build.py (git ignores it), not kept in the checkout
_spec = importlib.util.spec_from_file_location("gs_build", ROOT / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def _code_spans(text: str) -> list[str]:
    text = re.sub(r"```.*?```", lambda m: m.group(0).replace("`", " ") + "\n", text, flags=re.S)  # blocks apart
    return re.findall(r"`([^`\n]+)`", text)


def _blocks(text: str) -> list[str]:
    return re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)


def repo_paths(text: str) -> set[str]:
    """Paths of this repository written in code spans (``procgen/render/png.py``, ``tests/test_x.py::t``)."""
    found = set()
    for span in _code_spans(text):
        for word in span.split():
            word = word.strip(".,;:()'\"").split("::")[0]
            word = re.sub(r":\d+(-\d+)?$", "", word)  # file:line
            if any(c in word for c in "*<>{}$[]") or "..." in word:
                continue
            if word.startswith(tuple(t + "/" for t in TOP)) or word in TOP or word in TOP_FILES:
                found.add(word.rstrip("/"))
            elif word.startswith(tuple(p + "/" for p in ADDON_PARTS)) and re.search(r"\.py$|/$", word):
                found.add("blender_gs_addon/" + word.rstrip("/"))  # the add-on's parts, named without it
    return found


def link_paths(doc: Path, text: str) -> set[Path]:
    """Files and folders of this repository that markdown links point at (``[x](../procgen)``)."""
    out = set()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        out.add((doc.parent / target.split("#")[0]).resolve())
    return out


def module_names(text: str) -> set[str]:
    """Dotted names of our modules in code spans (``procgen.assembly.scene.generate_scene``)."""
    found = set()
    for span in _code_spans(text) + _blocks(text):
        for name in re.findall(r"(?<![\w./])(?:%s)(?:\.[A-Za-z_][A-Za-z0-9_]*)+" % "|".join(PACKAGES + ADDON_PARTS),
                               span):
            if re.search(r"\.(blend|ply|json|png|npy|glb|gltf|spz|splat|zip|md|py|txt|exr|html|log)$", name):
                continue  # a file name such as splats.blend, not a module
            found.add(f"blender_gs_addon.{name}" if name.split(".")[0] in ADDON_PARTS else name)
    return found


def build_commands(text: str) -> set[str]:
    return set(re.findall(r"\bbuild\.py\s+([a-z][a-z-]*)", text))


def _top_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def module_exists(name: str) -> bool:
    """A dotted name is a module or package of the checkout, or a top-level name (then maybe an
    attribute of it) of one."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:i])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if module.is_file():
            rest = parts[i:]
            return not rest or rest[0] in _top_names(module) or (base / f"{rest[0]}.py").is_file()
    return False


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_path_module_and_build_command_named_in_the_docs_exists(doc):
    text = doc.read_text(encoding="utf-8")
    missing = sorted(p for p in repo_paths(text) - GENERATED if not (ROOT / p).exists())
    missing += sorted(str(p.relative_to(ROOT)) for p in link_paths(doc, text)
                      if p.is_relative_to(ROOT) and not p.exists())
    missing += sorted(m for m in module_names(text) if not module_exists(m))
    assert not missing, f"{doc.name} names what the checkout lacks: {missing}"
    unknown = build_commands(text) - set(build.SUBCOMMANDS)
    assert not unknown, f"{doc.name} names build.py subcommands that do not exist: {sorted(unknown)}"


def test_the_checker_sees_what_it_should():
    text = ("See `procgen/render/png.py`, `tests/test_png.py::test_x`, `procgen/nowhere.py:12`, `splats/spz.py` and "
            "`procgen.render.png.read_png`, `procgen.render.png.no_such`, `procgen.old_module`, "
            "`blender.jobs.read_event`, `blender.native.x`, `out/splats.blend`; "
            "run `python build.py lint` or `python build.py frobnicate`.\n```\nfrom procgen.gone import x\n```\n")
    assert repo_paths(text) == {"procgen/render/png.py", "tests/test_png.py", "procgen/nowhere.py", "build.py",
                                "blender_gs_addon/splats/spz.py"}
    names = module_names(text)
    assert "blender_gs_addon.blender.jobs.read_event" in names and "procgen.render.png.read_png" in names
    assert {n for n in names if not module_exists(n)} == {"procgen.render.png.no_such", "procgen.old_module",
                                                         "procgen.gone", "blender_gs_addon.blender.native.x"}
    assert build_commands(text) == {"lint", "frobnicate"}


def test_development_page_names_every_suite_subcommand_and_package():
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    suites = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    assert not {s for s in suites if f"`{s}`" not in text}, "development.md: suites it does not describe"
    assert not {c for c in build.SUBCOMMANDS if f"python build.py {c}" not in text}, "subcommands missing"
    packages = {p.parent.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")
                if "csrc" not in p.parts and "__pycache__" not in p.parts}
    assert not {p for p in packages if p.split("/")[-1] + "/" not in text}, "packages missing from the layout"
