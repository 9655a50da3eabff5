"""build.py: manifest validation the way Blender checks it, and the zip's layout."""
from __future__ import annotations

import ast
import importlib.util
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gs_build", ROOT / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def test_project_manifest_is_valid():
    assert build.validate_manifest(build.read_manifest()) == []


def test_manifest_rules_catch_bad_values():
    good = build.read_manifest()
    cases = {
        "tagline": ("x" * 65, "at most 64"),
        "id": ("9lives", "identifier"),
        "version": ("1.0", "semantic version"),
        "license": (["SPDX:Proprietary"], "GPL-compatible"),
        "type": ("plugin", "type must be"),
    }
    for key, (value, needle) in cases.items():
        bad = dict(good, **{key: value})
        problems = build.validate_manifest(bad)
        assert any(needle in p for p in problems), (key, problems)
    assert any("punctuation" in p for p in build.validate_manifest(dict(good, tagline="Splats.")))
    missing = {k: v for k, v in good.items() if k != "maintainer"}
    assert any("maintainer" in p for p in build.validate_manifest(missing))
    perms = dict(good, permissions={"files": "Reads files."})
    assert any("punctuation" in p for p in build.validate_manifest(perms))


def test_zip_layout_is_self_contained():
    zip_path = build.package()
    m = build.read_manifest()
    assert zip_path.name == f"{m['id']}-{m['version']}.zip"
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "cli.py" in names and "__main__.py" in names
    # procgen and cuda_ext are subpackages of the add-on: no wheel puts them in shared site-packages
    assert "procgen/__init__.py" in names and "cuda_ext/__init__.py" in names
    assert "procgen/render/dataset.py" in names and "cuda_ext/csrc/bindings.cpp" in names
    assert not any(n.endswith(".whl") for n in names) and "wheels" not in m
    assert not any("__pycache__" in n or n.endswith(".so") for n in names)
    # inside the zip no module imports procgen or cuda_ext by its top-level name (another
    # extension may own that name in the shared site-packages): every such import is relative
    with zipfile.ZipFile(zip_path) as zf:
        for name in (n for n in names if n.endswith(".py")):
            for node in ast.walk(ast.parse(zf.read(name), name)):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    assert node.module.split(".")[0] not in build.BUNDLED_PACKAGES, (name, node.lineno)
                elif isinstance(node, ast.Import):
                    assert not {a.name.split(".")[0] for a in node.names} & set(build.BUNDLED_PACKAGES), name


def test_bundled_imports_become_relative_to_the_add_on_package():
    source = ("import os\nimport procgen\nfrom procgen.core import atomic\nfrom cuda_ext.quaternions import (\n"
              "    quat_to_rotmat,\n)\nimport cuda_ext.quaternions as q\n\n\ndef f():\n"
              "    from cuda_ext import rasterize  # noqa\n    import procgen_other\n    from procgenx import y\n")
    assert build.bundled_imports_relative(source, 0) == source.replace(
        "import procgen\n", "from . import procgen\n").replace("from procgen.core", "from .procgen.core").replace(
        "from cuda_ext.quaternions", "from .cuda_ext.quaternions").replace(
        "import cuda_ext.quaternions as q", "from .cuda_ext import quaternions as q").replace(
        "from cuda_ext import rasterize", "from .cuda_ext import rasterize")
    two_down = build.bundled_imports_relative(source, 2)
    assert "from ... import procgen\n" in two_down and "from ...procgen.core import atomic" in two_down
    assert "    import procgen_other\n    from procgenx import y\n" in two_down  # other names are left alone
    # `import procgen.render` binds `procgen` itself: no relative form, so the build refuses it
    with pytest.raises(build.BuildError, match=r"x\.py:1: .*import procgen\.render"):
        build.bundled_imports_relative("import procgen.render\n", 0, "x.py")


def test_every_blender_series_is_tested_the_default_first_with_the_full_suite():
    plan = build.test_plan(None)
    assert [v for v, _ in plan] == [build.DEFAULT_BLENDER] + [v for v in build.BLENDERS if v != build.DEFAULT_BLENDER]
    assert plan[0][1] == [] and all(marker == ["-m", "blender"] for _, marker in plan[1:])
    assert {"4.2", "4.5", "5.2", "5.3"} <= set(build.BLENDERS)
    for series, (release, python, numpy_pin) in build.BLENDERS.items():
        assert release.startswith(series + ".") and numpy_pin.startswith("numpy==")
        reqs = build.requirements(series)
        # only the training interpreter carries torch; Blender's own Python does not need it
        assert any(r.startswith("torch==") for r in reqs) == (series == build.DEFAULT_BLENDER)
        assert python == ((3, 11) if series.startswith("4.") else (3, 13))


def test_a_missing_interpreter_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setattr(build.sys, "version_info", (3, 9, 0))
    try:
        build.find_base_python((3, 99))
    except build.BuildError as exc:
        assert "Python 3.99 is required" in str(exc) and "pyenv install 3.99" in str(exc)
    else:
        raise AssertionError("no error for a missing interpreter")


def test_skip_check_names_skips_that_the_list_does_not_have(tmp_path):
    listed = build.parse_expected_skips("# comment\n\n4.5  tests/test_a.py::t[x]  needs a GPU\n"
                                        "4.2,5.3  tests/test_b.py  imports torch\n")
    assert listed == {"4.5": {"tests/test_a.py::t[x]"}, "4.2": {"tests/test_b.py"}, "5.3": {"tests/test_b.py"}}
    skipped = [{"id": "tests/test_a.py::t[x]", "reason": "r"}, {"id": "tests/test_b.py", "reason": "r"}]
    assert build.unexpected_skips(listed, "4.5", skipped) == [skipped[1]]
    assert build.unexpected_skips(listed, "5.3", skipped) == [skipped[0]]
    for bad, why in (("4.5 only-an-id", "SERIES TEST-ID REASON"), ("9.9 tests/x.py why", "unknown Blender series")):
        with pytest.raises(build.BuildError, match=why):
            build.parse_expected_skips(bad)
    report = tmp_path / "skips.json"
    report.write_text('[{"id": "tests/test_nobody_meant.py::t", "reason": "caught ImportError"}]')
    assert "1 skips not listed" in build.check_skips("4.5", report)


def test_the_expected_skips_list_is_valid_and_names_existing_tests():
    listed = build.parse_expected_skips(build.EXPECTED_SKIPS.read_text(encoding="utf-8"))
    assert set(listed) <= set(build.BLENDERS)
    for ids in listed.values():
        for test_id in ids:
            path, _, name = test_id.partition("::")
            assert (ROOT / path).is_file(), test_id
            assert not name or f"def {name.split('[')[0]}(" in (ROOT / path).read_text(encoding="utf-8"), test_id
