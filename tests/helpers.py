"""Shared helpers of the tests (no torch, no bpy at import): random splats, PLY files written
without the code under test, the malformed-file corpus, in-range test scenes for the compressed
formats, the independent converter (splat-transform from npm, through tests/tools/npm.py; tests
skip only where Node.js is missing), renders and PSNR, and orthographic Cycles renders of test
scenes (a material's height socket, or the ground-truth passes; bpy imported inside them).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blender_gs_addon.batch.manifest import read_records
from blender_gs_addon.batch.scenes import read_index, scene_complete
from blender_gs_addon.splats import SH_C0, SplatData, SplatFormatError, synthetic
from procgen.generate_cli import seed_dir_name

ROOT = Path(__file__).resolve().parent.parent
W, H = 128, 96
K = np.array([[110.0, 0, W / 2], [0, 110.0, H / 2], [0, 0, 1]])


def scene(n: int, degree: int, seed: int = 0, sh_scale: float = 0.3) -> SplatData:
    """Random splats inside every format's range: |x| <= 1, f_dc within +-3, log scales in [-6, -1.5]."""
    rng = np.random.default_rng(seed)
    return SplatData(
        means=rng.uniform(-1, 1, size=(n, 3)).astype(np.float32),
        scales_log=rng.uniform(-6, -1.5, size=(n, 3)).astype(np.float32),
        quats=rng.normal(size=(n, 4)).astype(np.float32),
        opacity_logit=rng.normal(0.5, 1.5, size=n).astype(np.float32),
        sh_dc=np.clip(rng.normal(0, 1.0, size=(n, 3)), -3, 3).astype(np.float32),
        sh_rest=rng.uniform(-sh_scale, sh_scale, size=(n, (degree + 1) ** 2 - 1, 3)).astype(np.float32),
    )


def splat_transform(*args, timeout: float = 900) -> str:
    """Run the independent converter quietly, overwriting: ``splat_transform(src, dst, ...)``."""
    from tests.tools import npm

    return npm.splat_transform("-q", "-w", *args, timeout=timeout)


def quat_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| of the unit quaternions, with b's sign chosen to match a ([N])."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.abs((a.astype(np.float64) * b).sum(1))))


def band_errors(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Largest root-sum-square difference over each SH band of sh_rest [N, K-1, 3] (per splat and channel)."""
    degree = int(round(np.sqrt(a.shape[1] + 1))) - 1
    out = []
    for band in range(1, degree + 1):
        sl = slice(band * band - 1, (band + 1) ** 2 - 1)
        out.append(float(np.sqrt(((a[:, sl].astype(np.float64) - b[:, sl]) ** 2).sum(1)).max()))
    return out


# ----------------------------------------------------------------------------- rendering

def look_at(eye, target=(0.0, 0.0, 0.0)) -> np.ndarray:
    """World-to-camera [4, 4] in OpenCV axes (x right, y down, z forward), Blender's Z up."""
    eye = np.asarray(eye, float)
    z = np.asarray(target, float) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    V = np.eye(4)
    V[:3, :3] = np.stack([x, np.cross(z, x), z])
    V[:3, 3] = -V[:3, :3] @ eye
    return V


def cameras(n: int = 4, distance: float = 3.2) -> list[np.ndarray]:
    """World-to-camera [4, 4] (OpenCV axes) of ``n`` cameras around the origin, slightly above it."""
    return [look_at(distance * np.array([np.cos(a), np.sin(a), 0.45]))
            for a in (2 * np.pi * (i + 0.125) / n for i in range(n))]


def render_rgba(data: SplatData, viewmat: np.ndarray, K: np.ndarray, width: int, height: int) -> np.ndarray:
    """RGB and alpha [H, W, 4] of ``data`` by the project's rasterizer (viewmat [4, 4], K [3, 3])."""
    torch = pytest.importorskip("torch", reason="the rasterizer needs torch")
    from cuda_ext import rasterize

    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    colors = np.concatenate([data.sh_dc[:, None], data.sh_rest], axis=1)
    with torch.no_grad():
        rgb, alpha, _, _ = rasterize(t(data.means), t(data.quats), t(data.scales()), t(data.alphas()), t(colors),
                                     t(viewmat), t(K), width, height, sh_degree=data.sh_degree)
    return np.concatenate([rgb.numpy(), alpha.numpy()], axis=-1)


def render_views(data: SplatData) -> np.ndarray:
    """RGB renders [4, H, W, 3] of ``data`` by the project's rasterizer from the four cameras()."""
    return np.stack([render_rgba(data, V, K, W, H)[..., :3] for V in cameras()])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((a.astype(np.float64) - b) ** 2)))


def noise_psnr(dc_step: float, sh_steps: list[float], log_scale_step: float, alpha_step: float) -> float:
    """The PSNR a format's quantisation steps allow, derived for the worst pixel kind.

    Model: a pixel shows one opaque splat of brightness up to 1 (no averaging over splats,
    which only lowers the error); each stored value is off by a uniform error of its step
    (variance step^2 / 12). The colour error is C0 * dc error plus SH errors, whose band-l
    part has variance (2l + 1) / (4 pi) * var per coefficient (the addition theorem); a
    log-scale error e changes the footprint value G = exp(-q/2) by G q e, at most 2/e * e;
    an opacity error passes through as it is. Position and rotation errors move footprints
    by well under 0.01 pixel at these cameras and are left out.
    """
    var = (SH_C0 * dc_step) ** 2 / 12
    var += sum((2 * band + 1) / (4 * np.pi) * step ** 2 / 12 for band, step in enumerate(sh_steps, start=1))
    var += (2 / np.e * log_scale_step) ** 2 / 12 + alpha_step ** 2 / 12
    return float(-10 * np.log10(var))


def compact_scene(n: int, degree: int, seed: int, opacity_sd: float) -> SplatData:
    """Random splats of 2 to 12 cm in a 1.2 m cube around the origin, mostly opaque: pictures
    of them are full of overlapping splats."""
    rng = np.random.default_rng(seed)
    return SplatData(
        means=rng.uniform(-0.6, 0.6, size=(n, 3)).astype(np.float32),
        scales_log=np.log(rng.uniform(0.02, 0.12, size=(n, 3))).astype(np.float32),
        quats=rng.normal(size=(n, 4)).astype(np.float32),
        opacity_logit=rng.normal(1.0, opacity_sd, size=n).astype(np.float32),
        sh_dc=rng.normal(0, 0.8, size=(n, 3)).astype(np.float32),
        sh_rest=rng.normal(0, 0.3, size=(n, (degree + 1) ** 2 - 1, 3)).astype(np.float32),
    )


def random_splats(n: int, degree: int, normals: bool = True, seed: int = 0) -> SplatData:
    return synthetic.random_splats(n, degree, seed=seed, log_scale_mean=-3.0, sh_rest_sd=0.2, normals=normals)


def independent_ply(props: list[tuple[str, str]], rows: list[tuple], fmt="binary_little_endian 1.0") -> bytes:
    """A PLY file written with struct only, one record at a time."""
    return independent_elements([("vertex", props, rows)], fmt)


def independent_elements(elements: list[tuple[str, list, list]], fmt="binary_little_endian 1.0",
                         comments=()) -> bytes:
    """A PLY file of several elements ((name, props, rows) each), written with struct only."""
    codes = {"float": "f", "uchar": "B", "int": "i", "double": "d", "ushort": "H", "short": "h"}
    endian = "<" if "little" in fmt else ">"
    header = "ply\nformat " + fmt + "\n" + "".join(f"comment {c}\n" for c in comments)
    body = b""
    for name, props, rows in elements:
        header += f"element {name} {len(rows)}\n" + "".join(f"property {t} {n}\n" for n, t in props)
        if fmt.startswith("ascii"):
            body += "".join(" ".join(repr(v) for v in r) + "\n" for r in rows).encode()
        else:
            rec = struct.Struct(endian + "".join(codes[t] for _, t in props))
            body += b"".join(rec.pack(*r) for r in rows)
    return (header + "end_header\n").encode() + body


# a degree-1 splat file in a shuffled property order, without normals, with two extra properties
SHUFFLED = ([("opacity", "float"), ("z", "float"), ("y", "float"), ("x", "float"), ("segment", "uchar")]
            + [(f"rot_{i}", "float") for i in (3, 1, 2, 0)] + [(f"f_rest_{i}", "float") for i in range(9)]
            + [(f"scale_{i}", "float") for i in range(3)] + [(f"f_dc_{i}", "float") for i in range(3)]
            + [("confidence", "float")])


def shuffled_rows(n: int) -> list[tuple]:
    rng = np.random.default_rng(7)
    vals = rng.normal(size=(n, len(SHUFFLED))).astype(np.float32)
    rows = []
    for r in range(n):
        row = [float(v) for v in vals[r]]
        row[4] = r % 256  # segment
        rows.append(tuple(row))
    return rows


VALID_HEADER = "ply\nformat binary_little_endian 1.0\nelement vertex 2\n" + "".join(
    f"property float {n}\n" for n in ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
                                      "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]) + "end_header\n"


def malformed_corpus() -> dict[str, bytes]:
    body = np.ones((2, 14), "<f4").tobytes()
    nan_body = np.ones((2, 14), "<f4")
    nan_body[1, 3] = np.nan
    return {
        "empty.ply": b"",
        "garbage.ply": bytes(range(256)) * 4,
        "text.ply": b"hello world\n",
        "no_end_header.ply": VALID_HEADER.replace("end_header\n", "").encode(),
        "truncated.ply": VALID_HEADER.encode() + body[:40],
        "count_too_large.ply": VALID_HEADER.replace("vertex 2", "vertex 1000000000").encode() + body,
        "negative_count.ply": VALID_HEADER.replace("vertex 2", "vertex -5").encode() + body,
        "count_not_int.ply": VALID_HEADER.replace("vertex 2", "vertex two").encode() + body,
        "zero_splats.ply": VALID_HEADER.replace("vertex 2", "vertex 0").encode(),
        "nan.ply": VALID_HEADER.encode() + nan_body.tobytes(),
        "int_position.ply": VALID_HEADER.replace("float x", "int x").encode() + body,
        "unknown_type.ply": VALID_HEADER.replace("float x", "quaternion x").encode() + body,
        "unknown_format.ply": VALID_HEADER.replace("binary_little_endian", "binary_middle_endian").encode() + body,
        "missing_rotation.ply": VALID_HEADER.replace("property float rot_3\n", "").encode() + body,
        "bad_sh_count.ply": VALID_HEADER.replace("end_header", "property float f_rest_0\nend_header").encode() + body,
        "sh_degree_4.ply": VALID_HEADER.replace("end_header", "".join(f"property float f_rest_{i}\n" for i in range(72))
                                                + "end_header").encode() + np.ones((2, 86), "<f4").tobytes(),
        "points_only.ply": b"ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\n"
                           b"property float y\nproperty float z\nend_header\n" + b"\0" * 12,
        "no_vertex.ply": b"ply\nformat binary_little_endian 1.0\nelement face 0\n"
                         b"property list uchar int vertex_indices\nend_header\n",
        "nonascii_header.ply": b"ply\nformat binary_little_endian 1.0\ncomment \xff\xfe\nend_header\n",
        "compressed.ply": b"ply\nformat binary_little_endian 1.0\nelement chunk 1\nproperty float min_x\n"
                          b"element vertex 1\nproperty uint packed_position\nend_header\n" + b"\0" * 8,
        "empty.splat": b"",
        "odd_size.splat": b"\0" * 33,
        "nan.splat": np.full(8, np.nan, "<f4").tobytes(),
        "zero_scale.splat": b"\0" * 32,
        "unknown.xyz": b"ply\n",
    }


def check_refusal(read, path: Path, content: bytes, phrase: str) -> None:
    """``content`` written to ``path`` reads as a SplatFormatError that names the file and says ``phrase``."""
    path.write_bytes(content)
    with pytest.raises(SplatFormatError) as info:
        read(path)
    assert str(path) in str(info.value)
    assert phrase in info.value.reason, info.value.reason


def fuzz_reader(read, bases: list[tuple[str, bytes, int]], folder: Path, seed: int, max_flips: int = 5,
                       head_share: float = 0.6, rounds: int = 300) -> None:
    """Damaged copies of the files ``bases`` ((name, bytes, head) each, taken in turn) must read
    as a SplatFormatError or as valid, finite splats, and both must happen.

    Each copy gets 1 to ``max_flips`` random bytes, a share ``head_share`` of them within its
    first ``head`` bytes (where the structure is; 0: anywhere), and 3 in 10 are cut short.
    """
    rng = np.random.default_rng(seed)
    outcomes = {"error": 0, "data": 0}
    for i in range(rounds):
        name, base, head = bases[i % len(bases)]
        buf = bytearray(base)
        for _ in range(rng.integers(1, max_flips + 1)):
            in_head = head and rng.random() < head_share
            pos = int(rng.integers(0, head if in_head else len(buf)))
            buf[pos] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            buf = buf[: int(rng.integers(0, len(buf)))]
        path = folder / name
        path.write_bytes(bytes(buf))
        try:
            data = read(path)
        except SplatFormatError:
            outcomes["error"] += 1
        else:
            data.validate()
            assert len(data) > 0 and np.isfinite(data.means).all()
            outcomes["data"] += 1
    assert outcomes["error"] > 0 and outcomes["data"] > 0, outcomes


def splats(n: int = 200, degree: int = 3, seed: int = 0, extra: bool = False) -> SplatData:
    rng = np.random.default_rng(seed)
    d = SplatData(
        means=rng.normal(0, 2, size=(n, 3)).astype(np.float32),
        scales_log=rng.uniform(-6, 1, size=(n, 3)).astype(np.float32),
        quats=rng.normal(size=(n, 4)).astype(np.float32),  # not unit, as trainers store them
        opacity_logit=rng.normal(0, 3, size=n).astype(np.float32),
        sh_dc=rng.normal(0, 1, size=(n, 3)).astype(np.float32),
        sh_rest=rng.normal(0, 0.3, size=(n, (degree + 1) ** 2 - 1, 3)).astype(np.float32),
    )
    if extra:
        d.extra["segment_id"] = rng.integers(0, 9, n).astype(np.float32)
    return d


def assert_same_splats(a: SplatData, b: SplatData, atol: float = 2e-6) -> None:
    """Equal as Gaussians within float32 rounding: positions, scales, opacities, rotations, SH."""
    np.testing.assert_allclose(a.means, b.means, rtol=1e-6, atol=atol)
    np.testing.assert_allclose(a.scales_log, b.scales_log, rtol=1e-6, atol=atol)
    np.testing.assert_allclose(a.alphas(), b.alphas(), atol=atol)
    dots = np.abs((a.unit_quats().astype(np.float64) * b.unit_quats()).sum(axis=1))  # q and -q agree
    np.testing.assert_allclose(dots, 1.0, atol=atol)
    np.testing.assert_allclose(a.sh_dc, b.sh_dc, atol=atol)
    assert a.sh_rest.shape == b.sh_rest.shape
    np.testing.assert_allclose(a.sh_rest, b.sh_rest, atol=atol)


# ----------------------------------------------------------------------------- batch runs

FRAMES = "2"  # tiny preset, two frames: a scene takes seconds


def batch_cmd(out, seeds: str, *options: str, frames: str = FRAMES) -> list[str]:
    return [sys.executable, "-m", "blender_gs_addon", "batch", "--seeds", seeds, "--preset", "tiny",
            "--out", str(out), "--no-progress", *options, "--", "--frames", frames]


def run_batch(out, seeds: str, *options: str, env: dict | None = None, timeout: float = 300,
              frames: str = FRAMES) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env or {})}
    return subprocess.run(batch_cmd(out, seeds, *options, frames=frames), cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def summary(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """The counts of the driver's summary line."""
    m = re.search(r"batch: (\d+)/(\d+) seeds done \((\d+) generated now, (\d+) found complete, (\d+) done before\), "
                  r"(\d+) failed", proc.stdout)
    assert m, f"no summary line in:\n{proc.stdout}\n{proc.stderr}"
    keys = ("done", "total", "ran", "found", "before", "failed")
    return dict(zip(keys, map(int, m.groups())))


def attempts_in_log(out: Path, seed: int) -> int:
    log = out / "logs" / f"{seed_dir_name(seed)}.log"
    return log.read_text(errors="replace").count(f"=== seed {seed} attempt ") if log.exists() else 0


def file_stats(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (inode, mtime in ns) of every file: a rewritten file changes both or one."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.name != ".gs-lock":
            st = path.stat()
            out[str(path.relative_to(folder))] = (st.st_ino, st.st_mtime_ns)
    return out


def check_finished(out: Path, seeds: list[int], frames: int = int(FRAMES)) -> None:
    """Each seed done in the manifest, complete on disk and in index.json with its frames."""
    records = read_records(str(out))
    index = {e["seed"]: e for e in read_index(str(out))}
    for seed in seeds:
        assert records[seed]["status"] == "done", records[seed]
        assert scene_complete(str(out / seed_dir_name(seed)))
        assert index[seed]["frames"] == frames and index[seed]["resolution"] == [64, 64]
        assert index[seed]["path"] == seed_dir_name(seed)
        tr = json.loads((out / index[seed]["transforms"]).read_text())
        assert len(tr["frames"]) == frames
        assert sorted(index[seed]["splits"]["train"] + index[seed]["splits"]["test"]) == \
            [f["frame"] for f in tr["frames"]]
        if records[seed].get("note") != "found complete on disk":  # a run recorded what it measured
            assert records[seed]["peak_mem_mb"] > 50  # Blender was loaded in the child
            assert records[seed]["host"] and records[seed]["start"] <= records[seed]["end"]


# ----------------------------------------------------------------------------- small file systems

@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str):
    """A real tmpfs at ``path`` (e.g. "size=2m" or "ro,size=1m"); skips where mounting is not allowed."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on Linux")
    path.mkdir(exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def debris(folder: Path) -> list[str]:
    """Temporary files and scratch folders left in ``folder``."""
    return [str(p) for p in folder.rglob("*") if ".tmp" in p.name or p.name.startswith(".gs-tmp-")]


def dataset_file(out, entry: dict, key: str) -> np.ndarray:
    """The array of a dataset file named by ``entry[key]`` (a transforms.json frame): PNG or .npy."""
    from procgen.render.png import read_png

    path = os.path.join(out, entry[key])
    return read_png(path) if path.endswith(".png") else np.load(path)


def frame_K(tr: dict, entry: dict) -> np.ndarray:
    """[3, 3] intrinsics of a transforms.json frame (per-frame keys over the file's own)."""
    src = dict(tr, **entry)
    return np.array([[src["fl_x"], 0, src["cx"]], [0, src["fl_y"], src["cy"]], [0, 0, 1.0]])


def pixel_ray(c2w: np.ndarray, K: np.ndarray, r: float, c: float):
    """(origin, unit direction) as mathutils Vectors of the ray through the centre of pixel (r, c)
    of a transforms.json pose (camera-to-world, OpenGL axes) and intrinsics K."""
    from mathutils import Vector

    from procgen.core.axes import c2w_opencv

    d = c2w_opencv(c2w)[:3, :3] @ np.array([(c + 0.5 - K[0, 2]) / K[0, 0], (r + 0.5 - K[1, 2]) / K[1, 1], 1.0])
    return Vector(c2w[:3, 3]), Vector(d / np.linalg.norm(d))


def _owner(inst) -> str:
    """The name of the object that draws a depsgraph instance (its instancer, or itself)."""
    return inst.parent.original.name if inst.is_instance else inst.object.original.name


def surface_anchors(frame: int, c2w: np.ndarray, K: np.ndarray, pixels) -> dict:
    """pixel (r, c) -> (owner name, persistent id, triangle's vertex indices [3], barycentric [3]):
    the surface each pixel's ray meets at ``frame`` (Blender's ray cast on the evaluated, possibly
    deformed meshes, instances included: the hit names its instancer and the instance's matrix)."""
    import bpy

    from procgen.render.mesh_anchors import triangle_anchor

    scene = bpy.context.scene
    scene.frame_set(frame)
    dg = bpy.context.evaluated_depsgraph_get()
    hits = {}
    for r, c in pixels:
        hit, loc, _, polygon, ob, matrix = scene.ray_cast(dg, *pixel_ray(c2w, K, r, c))
        if hit:
            hits.setdefault(ob.name, []).append(((r, c), np.array(matrix, np.float64), polygon, np.array(loc)))
    out = {}
    for inst in dg.object_instances:
        owner = _owner(inst)
        if owner not in hits:
            continue
        m = np.array(inst.matrix_world, np.float64)
        for px, matrix, polygon, loc in hits[owner]:
            if px not in out and np.allclose(m, matrix, atol=1e-6):
                local = np.linalg.solve(m, np.append(loc, 1.0))[:3]
                tri, bary = triangle_anchor(inst.object.data, polygon, local)
                out[px] = (owner, tuple(inst.persistent_id), tri, bary)
    return out


def carried_points(anchors: dict, frame: int) -> dict:
    """pixel -> the world point [3] of its anchor (``surface_anchors``) in ``frame``: the same
    triangle of the same object or instance, its evaluated vertices in that frame."""
    import bpy

    bpy.context.scene.frame_set(frame)
    wanted: dict = {}
    for px, (name, pid, tri, bary) in anchors.items():
        wanted.setdefault((name, pid), []).append((px, tri, bary))
    out = {}
    for inst in bpy.context.evaluated_depsgraph_get().object_instances:
        key = (_owner(inst), tuple(inst.persistent_id))
        if key in wanted:
            m = np.array(inst.matrix_world, np.float64)
            verts = inst.object.data.vertices
            for px, tri, bary in wanted[key]:
                out[px] = bary @ (np.array([verts[int(i)].co[:] for i in tri]) @ m[:3, :3].T + m[:3, 3])
    return out


# ----------------------------------------------------------------------------- Cycles renders of test scenes

def _ortho_camera(side: float, px: int, at, turn=(0.0, 0.0, 0.0)):
    """An orthographic camera at ``at`` turned by ``turn`` (Euler XYZ, radians) that sees a ``side``
    metres square in ``px`` by ``px`` pixels, made the Cycles camera of the current scene."""
    import bpy

    scene = bpy.context.scene
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    cam.data.type, cam.data.ortho_scale = "ORTHO", side
    cam.location, cam.rotation_euler = at, turn
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene.render.engine = "CYCLES"
    scene.render.resolution_x = scene.render.resolution_y = px
    scene.render.resolution_percentage = 100
    return scene


def tiny_arctic_drifted() -> tuple[dict, object, object]:
    """Generate the tiny arctic (seed 0) -> (its scene info, the bare height field, and the
    wind-drifted one recomputed apart, which the terrain is built from before anything stands)."""
    import bpy

    from procgen.assembly.biomes import BIOMES
    from procgen.assembly.config import SceneConfig
    from procgen.assembly.scene import generate_scene
    from procgen.core.seeding import stream
    from procgen.terrain import snow_drifts
    from procgen.terrain.heightfield import Heightfield, make_heightfield

    config = SceneConfig.from_preset("tiny", seed=0, biome="arctic")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    info = generate_scene(config)
    wind = np.array(info["terrain"]["snow_drift"]["wind"])
    bare = make_heightfield(config.terrain, stream(0, "terrain"), BIOMES["arctic"])
    drifted = Heightfield(snow_drifts.drift(bare.z, bare.cell, wind, bare.water_level), bare.size, bare.kind, None)
    return info, bare, drifted


def render_height(tmp_path: Path, mat, height, depth: float, corners, side: float, px: int, at,
                  turn=(0.0, 0.0, 0.0)) -> np.ndarray:
    """The socket ``height`` of the material ``mat`` (metres, about ``depth`` at most) [px, px], rows
    top-down: emitted at 1 / ``depth`` on the quad ``corners`` ([4, 3]) and rendered to a 32-bit EXR
    with one sample at each pixel's centre, seen by ``_ortho_camera(side, px, at, turn)``."""
    import bpy

    from procgen.render.exr import read_channels

    nt = mat.node_tree
    glow = nt.nodes.new("ShaderNodeEmission")
    nt.links.new(height, glow.inputs["Color"])
    glow.inputs["Strength"].default_value = 1.0 / depth
    out = next(n for n in nt.nodes if n.type == "OUTPUT_MATERIAL")
    nt.links.new(glow.outputs["Emission"], out.inputs["Surface"])
    me = bpy.data.meshes.new("plane")
    me.from_pydata([tuple(c) for c in corners], [], [(0, 1, 2, 3)])
    me.materials.append(mat)
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("plane", me))
    scene = _ortho_camera(side, px, at, turn)
    scene.cycles.samples, scene.cycles.use_denoising = 1, False
    scene.cycles.pixel_filter_type, scene.cycles.filter_width = "BOX", 0.01
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    scene.render.filepath = str(tmp_path / "height.exr")
    bpy.ops.render.render(write_still=True)
    return next(v for k, v in read_channels(tmp_path / "height.exr").items() if k.endswith("R")) * depth


def render_passes(path: Path, side: float, px: int, at, turn=(0.0, 0.0, 0.0)) -> dict[str, np.ndarray]:
    """The ground-truth passes (diffuse colour included) of the current scene, name -> [px, px, C],
    rendered to ``path`` by the project's own settings (one sample at each pixel's centre), seen by
    ``_ortho_camera(side, px, at, turn)``."""
    from procgen.render.exr import read_passes
    from procgen.render.passes import Settings, configure_gt, render_still

    scene = _ortho_camera(side, px, at, turn)
    layer = scene.view_layers[0]
    configure_gt(scene, layer, Settings(), albedo=True)
    render_still(scene, layer, str(path))
    return read_passes(path)
