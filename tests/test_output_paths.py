"""Every command that writes checks its output path first: hostile paths give one line, no traceback,
and nothing is written or replaced.

The read-only location is a real read-only tmpfs mount, and the unwritable one a folder made
immutable with ``chattr +i`` (root on Linux: a folder of mode 0o500 does not stop root); elsewhere
those cases skip and say why.
"""
from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from helpers import mounted_tmpfs, random_splats

from blender_gs_addon.splats import write_ply
from procgen.core.output_paths import OutputPathError, check_file, check_folder

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[1]
FOLDER_COMMANDS = ("generate", "render", "gallery", "train", "batch", "demo")
FILE_COMMANDS = ("import", "export", "edit")
CASES = ("empty", "a file", "through a file", "read-only mount", "immutable folder", "foreign files")


def _immutable(folder: Path) -> Path:
    """``folder`` made immutable (no one, root included, may create files in it); skips where chattr cannot."""
    folder.mkdir(exist_ok=True)
    if sys.platform != "linux":
        pytest.skip("chattr +i is Linux only")
    proc = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"chattr +i is not allowed here: {proc.stderr.strip()}")
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs every command accepts, and one of each hostile location."""
    import bpy

    from blender_gs_addon.cli import main

    root = tmp_path_factory.mktemp("hostile")
    ply = root / "in.ply"
    write_ply(ply, random_splats(200, 1, seed=3))
    blend = root / "scene.blend"
    assert main(["import", str(ply), "--out", str(blend), "--name", "Splats"]) == 0
    bpy.ops.wm.read_factory_settings(use_empty=True)
    dataset = root / "dataset"
    dataset.mkdir()
    (root / "a_file.txt").write_text("mine")
    photos = root / "photos"
    (photos / "images").mkdir(parents=True)
    (photos / "depth").mkdir()
    for rel in ("images/00001.png", "images/00002.png", "depth/00001.npy", "notes.txt"):
        (photos / rel).write_bytes(b"the user's " + rel.encode())
    with ExitStack() as stack:
        w = {"root": root, "ply": ply, "blend": blend, "dataset": dataset, "photos": photos}
        try:
            w["ro"] = stack.enter_context(mounted_tmpfs(root / "ro", "ro,size=1m"))
        except pytest.skip.Exception as exc:
            w["ro"] = exc
        try:
            w["immutable"] = _immutable(root / "immutable")
            stack.callback(subprocess.run, ["chattr", "-i", str(root / "immutable")], check=False)
        except pytest.skip.Exception as exc:
            w["immutable"] = exc
        yield w


def _target(world, case: str, file_name: str | None) -> str:
    """The hostile --out of ``case``; a file name for import/export, else a folder."""
    name = file_name or "out"
    if case == "empty":
        return ""
    if case == "a file":
        return str(world["root"] / "a_file.txt") if file_name is None else str(world["dataset"])
    if case == "through a file":
        return str(world["root"] / "a_file.txt" / name)
    if case in ("read-only mount", "immutable folder"):
        where = world["ro" if case == "read-only mount" else "immutable"]
        if isinstance(where, BaseException):
            pytest.skip(str(where))
        return str(where / name)
    return str(world["photos"])


def _command(world, command: str, out: str) -> list[str]:
    w = world
    return {
        "generate": ["generate", "--preset", "tiny", "--out", out],
        "render": ["render", str(w["blend"]), "--out", out],
        "gallery": ["gallery", "--out", out],
        "train": ["train", str(w["dataset"]), "--out", out],
        "batch": ["batch", "--seeds", "0", "--preset", "tiny", "--out", out],
        "demo": ["demo", "--out", out],
        "import": ["import", str(w["ply"]), "--out", out],
        "export": ["export", str(w["blend"]), "--object", "Splats", "--out", out],
        "edit": ["edit", str(w["ply"]), "--out", out, "--filter-harmonics", "0"],
    }[command]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# a file target has no foreign files (an existing file is refused without --overwrite: test_cli_io_errors.py)
MATRIX = [(command, case) for command in FOLDER_COMMANDS + FILE_COMMANDS for case in CASES
          if not (command in FILE_COMMANDS and case == "foreign files")]


@pytest.mark.parametrize(("command", "case"), MATRIX)
def test_a_hostile_output_path_gives_one_line_and_writes_nothing(world, command, case):
    out = _target(world, case, {"import": "scene.blend", "export": "out.ply", "edit": "out.ply"}.get(command))
    before = _snapshot(world["photos"]), _snapshot(world["root"] / "dataset")
    proc = subprocess.run([sys.executable, "-m", "blender_gs_addon", *_command(world, command, out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    said = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(said) == 1 and said[0].startswith(f"{command}: "), proc.stderr
    expected = {"empty": "--out is empty", "a file": "is a file, not a folder" if command in FOLDER_COMMANDS
                else "is a folder, not a file", "through a file": f"{world['root'] / 'a_file.txt'} is a file",
                "read-only mount": "not writable (read-only file system)",
                "immutable folder": "not writable (permission denied)",
                "foreign files": "holds files this command did not write"}[case]
    assert expected in said[0] and (case == "empty" or out in said[0]), said[0]
    assert (_snapshot(world["photos"]), _snapshot(world["root"] / "dataset")) == before
    assert not (world["photos"] / ".gs-lock").exists()  # refused before the lock


def test_the_checks_in_process(tmp_path):
    """The module's own answers: resumable folders pass, foreign ones only with overwrite or as inputs."""
    assert check_folder(str(tmp_path / "new" / "deeper")) == str(tmp_path / "new" / "deeper")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "progress.json").write_text("{}")
    (tmp_path / "ours" / "notes.txt").write_text("the user's")
    ours = lambda folder: (Path(folder) / "progress.json").exists()  # noqa: E731
    assert check_folder(str(tmp_path / "ours"), is_ours=ours) == str(tmp_path / "ours")
    (tmp_path / "ours" / "progress.json").unlink()
    with pytest.raises(OutputPathError, match=r"did not write \(notes.txt\).*--overwrite"):
        check_folder(str(tmp_path / "ours"), is_ours=ours)
    assert check_folder(str(tmp_path / "ours"), is_ours=ours, overwrite=True)
    assert check_folder(str(tmp_path / "ours"), is_ours=ours, inputs=[str(tmp_path / "ours" / "notes.txt")])
    (tmp_path / "ours" / ".gs-lock").write_text("")  # a lock of ours says nothing about who owns the folder
    with pytest.raises(OutputPathError, match=r"\(notes.txt\)"):
        check_folder(str(tmp_path / "ours"), is_ours=ours)
    assert check_file(str(tmp_path / "a.ply")) == str(tmp_path / "a.ply")
    (tmp_path / "a.ply").write_text("x")
    with pytest.raises(OutputPathError, match="exists; use --overwrite"):
        check_file(str(tmp_path / "a.ply"), overwrite=False)
    assert check_file(str(tmp_path / "a.ply"), overwrite=True) and check_file(str(tmp_path / "a.ply"))
    with pytest.raises(OutputPathError, match="is a folder, not a file"):
        check_file(str(tmp_path) + "/")
    assert not [p for p in tmp_path.rglob("*") if ".gs-tmp-" in p.name]  # the probe left nothing


def test_render_dataset_keeps_a_users_images_unless_overwrite(tmp_path):
    """The renderer's own entry (the add-on's Render Dataset, scripts) refuses a folder of the user's
    photos without transforms.json too; with overwrite only the files of the dataset's names go."""
    from procgen.render import render_dataset
    from procgen.render.png import read_png
    from procgen.render.reference_scenes import build_test_scene

    build_test_scene(resolution=(24, 16), frames=2)
    (tmp_path / "images").mkdir()
    for rel in ("images/00001.png", "images/00002.png", "notes.txt"):
        (tmp_path / rel).write_bytes(b"the user's " + rel.encode())
    before = _snapshot(tmp_path)
    with pytest.raises(FileExistsError, match=r"did not write \(images/00001.png, images/00002.png\)"):
        render_dataset(tmp_path, samples=1, device="cpu")
    assert _snapshot(tmp_path) == before
    summary = render_dataset(tmp_path, samples=1, device="cpu", overwrite=True)
    assert summary["complete"] and read_png(tmp_path / "images" / "00001.png").shape[:2] == (16, 24)
    assert (tmp_path / "notes.txt").read_bytes() == before["notes.txt"]


def test_a_write_refused_on_a_small_read_only_disk_is_not_called_full(tmp_path):
    """A read-only tmpfs of 1 MB (below the 16 MB 'nearly full' mark): the failed write says read-only,
    where it was reported as 'no space left on device (1.0 MB free)'."""
    from procgen.core.disk import describe_write_error

    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        with pytest.raises(OSError) as info:
            open(ro / "scene.blend", "wb")
        said = describe_write_error(info.value, str(ro / "scene.blend"))
    assert said == f"{ro / 'scene.blend'}: not writable (read-only file system)", said
