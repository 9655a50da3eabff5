"""The camera's motion: its trajectory as a TUM file and what an IMU on it would read (bpy-free).

Both use OpenCV camera axes (x right, y down, z forward) in Blender's world (z up), in metres
and seconds; a frame's time is ``frame / fps``.

- Trajectory (``cameras/trajectory_tum.txt``): one line per frame, ``timestamp tx ty tz qx qy
  qz qw``, the camera-to-world pose (position and the rotation of the camera axes).
- IMU (``cameras/imu.txt``): one line per frame, ``timestamp wx wy wz ax ay az``: the angular
  velocity (rad/s) and the specific force an accelerometer reads (m/s^2, the acceleration minus
  the scene's gravity, so a camera at rest reads +9.81 upwards), both in the camera's axes.
  They are central differences of the animation evaluated at frames t-1, t and t+1 (Blender
  evaluates the animation outside the frame range too), so at the frame rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.atomic import write_text
from ..core.axes import c2w_opencv
from ..core.rotations import matrix_to_quat


@dataclass
class CameraSample:
    """The camera and the moving objects at one frame (``dataset.sample_track``)."""
    c2w: np.ndarray            # [4, 4] camera-to-world, OpenGL axes (transforms.json)
    K: np.ndarray              # [3, 3]
    matrices: dict = field(default_factory=dict)  # instance id -> [4, 4] world matrix of what moves it
    meshes: dict = field(default_factory=dict)    # instance id -> (vertices [V, 3], triangles [F, 3], as lists)
    # of a deforming mesh, object space (track_anchors.DeformingMeshes.of_frame)
    copies: dict = field(default_factory=dict)    # instance id -> the copies of a carrier whose instanced
    # copies move or deform (instance_anchors.InstancedCopies.of_frame)


def object_motions(track: dict, t: int, s: int) -> dict[int, np.ndarray]:
    """Instance id -> 4x4 world motion from frame t to s, for the ids whose object moves between them."""
    a, b = track[t].matrices, track[s].matrices
    out = {}
    for i, m in a.items():
        if i in b and not np.allclose(m, b[i], rtol=0, atol=1e-9):
            out[i] = b[i] @ np.linalg.inv(m)
    return out


def rotation_vector(R: np.ndarray) -> np.ndarray:
    """Axis times angle [3] (radians) of a rotation matrix [3, 3]."""
    w, x, y, z = matrix_to_quat(R)
    s = float(np.linalg.norm([x, y, z]))
    if s < 1e-15:
        return np.zeros(3)
    return 2.0 * np.arctan2(s, w) * np.array([x, y, z]) / s


def imu_reading(c2w_prev: np.ndarray, c2w: np.ndarray, c2w_next: np.ndarray, dt: float,
                gravity=(0.0, 0.0, -9.81)) -> tuple[np.ndarray, np.ndarray]:
    """(angular velocity [3] rad/s, specific force [3] m/s^2) in the OpenCV camera axes at the
    middle of three poses (camera-to-world, OpenGL axes as in transforms.json) ``dt`` seconds apart."""
    a, b, c = (c2w_opencv(m) for m in (c2w_prev, c2w, c2w_next))
    # body-frame rates: R(t + dt) = R(t) exp([w] dt), averaged over the two steps
    omega = (rotation_vector(a[:3, :3].T @ b[:3, :3]) + rotation_vector(b[:3, :3].T @ c[:3, :3])) / (2 * dt)
    accel_world = (c[:3, 3] - 2 * b[:3, 3] + a[:3, 3]) / dt ** 2
    force = b[:3, :3].T @ (accel_world - np.asarray(gravity, np.float64))
    return omega, force


def trajectory_lines(times: list[float], c2ws: list[np.ndarray]) -> list[str]:
    """TUM lines ``timestamp tx ty tz qx qy qz qw`` of camera-to-world poses (OpenGL axes in, OpenCV out)."""
    lines = []
    for t, m in zip(times, c2ws):
        cv = c2w_opencv(m)
        qw, qx, qy, qz = matrix_to_quat(cv[:3, :3])
        lines.append(" ".join(f"{v:.9f}" for v in (t, *cv[:3, 3], qx, qy, qz, qw)))
    return lines


def write_trajectory(path: str, times: list[float], c2ws: list[np.ndarray]) -> None:
    header = "# camera trajectory (TUM): timestamp tx ty tz qx qy qz qw; camera-to-world, OpenCV camera axes\n"
    write_text(path, header + "".join(line + "\n" for line in trajectory_lines(times, c2ws)))


def write_imu(path: str, times: list[float], readings: list[tuple[np.ndarray, np.ndarray]]) -> None:
    header = ("# camera IMU: timestamp wx wy wz ax ay az; angular velocity (rad/s) and specific force "
              "(m/s^2, gravity included) in OpenCV camera axes\n")
    body = "".join(" ".join(f"{v:.9f}" for v in (t, *w, *a)) + "\n" for t, (w, a) in zip(times, readings))
    write_text(path, header + body)


def read_table(path: str) -> np.ndarray:
    """[N, C] float64 of a TUM-style text file (lines starting with # skipped)."""
    return np.loadtxt(path, comments="#", ndmin=2)
