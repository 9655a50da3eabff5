"""Generate, Render Dataset, Train and Install torch.

Generating builds the scene in this Blender (it is quick). The long jobs run in a child
process as modal operators: a timer reads the child's output, the status bar and the
panel show progress, Esc or the panel's Cancel button stops the job and keeps what it
finished. Called from a script (EXEC), the same operators block until done. The render and
train children report in one JSON-lines protocol (`jobs_protocol`), read by `jobs.read_event`.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty

from ..command_options import argv_of, parse
from . import addon_package, jobs, torch_env
from .jobs import Job, LiveTraining, python_child, read_event
from .ops_io import refuse
from .option_props import argv_from, values_of

TORCH_REQUIREMENT = "torch==2.13.0"


def settings(context):
    return context.scene.gaussian_scenes


def _abspath(path: str) -> str:
    return os.path.abspath(bpy.path.abspath(path))


def _folder_property(name: str, what: str):
    """A folder path of an operator; empty means the panel's."""
    return StringProperty(name=name, description=f"{what} folder (empty: the panel's)", default="", subtype="DIR_PATH")


class GS_OT_generate(bpy.types.Operator):
    """Generate a procedural natural scene from the preset and seed into this file"""

    bl_idname = "gs.generate"
    bl_label = "Generate Scene"
    bl_options = {"REGISTER", "UNDO"}

    preset: StringProperty(name="Preset", description="Scene preset (empty: the panel's)", default="")
    seed: IntProperty(name="Seed", description="Random seed (-1: the panel's)", default=-1, min=-1)

    def scene_config(self, context):
        """The SceneConfig of the panel's `generate` options, read by `generate`'s own parser and code."""
        from procgen.generate_cli import config_from_args

        group = settings(context).generate
        values = values_of(group)
        if self.preset:
            values["preset"] = self.preset
        if self.seed >= 0:
            values["seed"] = self.seed
        args = parse("generate", ["--out", "unused", *argv_of(group.options, values)])
        return config_from_args(args, seed=(args.seed or [0])[0])

    def execute(self, context):
        from procgen.assembly.scene import generate_scene

        s = settings(context)
        wm = context.window_manager
        wm.progress_begin(0, 100)
        stages = []

        def progress(stage: str) -> None:
            stages.append(stage)
            s.job_message = f"generating: {stage}"
            wm.progress_update(min(99, 8 * len(stages)))

        t0 = time.perf_counter()
        try:
            config = self.scene_config(context)
            generate_scene(config, progress=progress)
        except Exception as exc:  # report generator failures to the user instead of a traceback
            self.report({"ERROR"}, f"Generating failed: {exc}")
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        s.job_message = f"generated preset '{config.preset}' seed {config.seed} in {time.perf_counter() - t0:.1f} s"
        self.report({"INFO"}, s.job_message)
        return {"FINISHED"}


class _JobOperator:
    """Shared life cycle of the background jobs (mixin for bpy.types.Operator)."""

    bl_options = {"REGISTER"}  # no undo: the work happens outside this file
    kind = "job"
    _timer = None
    _job = None
    _result = None  # the child's "result" event, once it came

    # subclasses: start_job(context) -> Job, finished(context, rc, cancelled) -> set, and
    # on_other_line(context, stream, text) for output that is not a protocol event
    def _begin(self, context):
        if jobs.RUNNING.get(self.kind) is not None:
            self.report({"ERROR"}, f"A {self.kind} job is already running")
            return False
        try:
            self._job = self.start_job(context)
        except (OSError, ValueError, RuntimeError) as exc:
            self.report({"ERROR"}, str(exc))
            return False
        if self._job is None:
            return False
        self._result = None
        jobs.RUNNING[self.kind] = self._job
        s = settings(context)
        s.job_kind, s.job_progress, s.job_message = self.kind, 0.0, "starting..."
        return True

    def _pump(self, context) -> None:
        self.on_lines(context, self._job.drain())

    def on_lines(self, context, lines) -> None:
        live = jobs.LIVE.get(self.kind)
        before = live.changes if live is not None else 0
        for stream, text in lines:
            self.on_line(context, stream, text)
        if live is not None and live.changes != before:
            from .training_view import refresh

            refresh(live)

    def on_line(self, context, stream: str, text: str) -> None:
        event = read_event(text) if stream == "out" else None
        if event is None:
            self.on_other_line(context, stream, text)
            return
        s = settings(context)
        if self.kind in jobs.LIVE:
            jobs.LIVE[self.kind].add(event)
        if event["event"] == "progress":
            if event["total"] > 0:
                s.job_progress = min(1.0, event["done"] / event["total"])
            s.job_message = (event["message"] or f"{event['done']} of {event['total']}")[:200]
        elif event["event"] == "result":
            self._result = event
        else:
            s.job_message = f"error: {event['message']}"[:200]

    def on_other_line(self, context, stream: str, text: str) -> None:
        """A line that is not a protocol event (a library's output, a traceback)."""

    def cleanup(self) -> None:
        """Remove what the job needed only while running (subclasses)."""

    def _end(self, context, rc: int):
        self._pump(context)
        jobs.RUNNING.pop(self.kind, None)
        self.cleanup()
        s = settings(context)
        s.job_kind = ""
        if self._job.cancel_requested:
            s.job_message = "cancelled; finished work was kept"
            self.report({"WARNING"}, f"{self.kind.capitalize()} cancelled; finished work was kept")
            result = self.finished(context, rc, cancelled=True)
            return result
        if rc != 0:
            detail = s.job_message if s.job_message.startswith("error") else self._job.error_text()
            s.job_message = f"failed (exit code {rc})"
            self.report({"ERROR"}, f"{self.kind.capitalize()} failed (exit code {rc}): {detail}")
            return {"CANCELLED"}
        return self.finished(context, rc, cancelled=False)

    def execute(self, context):
        if not self._begin(context):
            return {"CANCELLED"}

        try:
            rc = self._job.wait(on_lines=lambda items: self.on_lines(context, items))
        except KeyboardInterrupt:
            self._job.cancel()
            rc = self._job.wait()
        return self._end(context, rc)

    def invoke(self, context, event):
        if context.window is None:  # no window to draw progress in (background Blender): block
            return self.execute(context)
        if not self._begin(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 1000)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._pump(context)
        s = settings(context)
        wm = context.window_manager
        wm.progress_update(int(1000 * s.job_progress))
        if context.workspace is not None:
            context.workspace.status_text_set(f"{self.kind.capitalize()}: {s.job_message}  (Esc to cancel)")
        for area in context.screen.areas if context.screen else []:
            if area.type == "VIEW_3D":
                area.tag_redraw()
        rc = self._job.poll()
        if rc is None:
            return {"RUNNING_MODAL"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        return self._end(context, rc)


class GS_OT_render_dataset(_JobOperator, bpy.types.Operator):
    """Render the ground-truth dataset (RGB, depth, flow, normals, segmentation, cameras) of this scene"""

    bl_idname = "gs.render_dataset"
    bl_label = "Render Dataset"
    kind = "render"

    out_dir: _folder_property("Output", "Dataset")

    @classmethod
    def poll(cls, context):
        return context.scene.camera is not None or refuse(cls, "The scene needs a camera (generate a scene first)")

    def start_job(self, context):
        s = settings(context)
        self._out = _abspath(self.out_dir or s.dataset_dir)
        # the child renders a saved copy of this file as it is now
        self._tmp = tempfile.mkdtemp(prefix="render_", dir=torch_env.cache_dir())
        blend = os.path.join(self._tmp, "scene.blend")
        bpy.ops.wm.save_as_mainfile(filepath=blend, copy=True, check_existing=False)
        argv = ["render", blend, "--out", self._out, "--scene", context.scene.name, "--progress-json",
                *argv_from(s.render)]
        code = (f"import sys; sys.path[:0] = {torch_env.module_search_path()!r}; "
                f"from {torch_env.package_module_name()}.cli import main; sys.exit(main({argv!r}))")
        return Job(self.kind, python_child(code), env=torch_env.child_env())

    def cleanup(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def finished(self, context, rc, cancelled):
        s = settings(context)
        if not cancelled:
            s.dataset_dir = self._out
            s.job_message = f"dataset written to {self._out}"
            self.report({"INFO"}, s.job_message)
        return {"FINISHED"}


def train_argv(context, iterations: int = 0) -> list[str]:
    """The panel's `train` options as argv; Device "auto" leaves the choice to the preferences' Device."""
    group = settings(context).train
    values = values_of(group)
    if iterations:
        values["iterations"] = iterations
    prefs = addon_package.preferences()
    if values["device"] == "auto" and prefs is not None:
        values["device"] = getattr(prefs, "device", "auto")
    return argv_of(group.options, values)


class GS_OT_train(_JobOperator, bpy.types.Operator):
    """Train Gaussian splats on the dataset in a background process, then import them"""

    bl_idname = "gs.train"
    bl_label = "Train Splats"
    kind = "train"

    dataset: _folder_property("Dataset", "Dataset")
    out_dir: _folder_property("Output", "Output")
    iterations: IntProperty(name="Iterations", description="Training iterations (0: the panel's)", default=0, min=0)
    existing: EnumProperty(name="Existing Output", description="An earlier run in the output folder: "
                           "continue it or replace it (PANEL: the panel's choice)",
                           items=[("PANEL", "Panel", "The panel's choice"), ("CONTINUE", "Continue", "Resume it"),
                                  ("REPLACE", "Replace", "Train anew, swapping the output in when complete")],
                           default="PANEL")

    def start_job(self, context):
        s = settings(context)
        dataset = _abspath(self.dataset or s.dataset_dir)
        self._out = _abspath(self.out_dir or s.train_dir)
        if not os.path.isdir(dataset):
            raise ValueError(f"Dataset folder {dataset} does not exist; render a dataset first")
        os.makedirs(self._out, exist_ok=True)
        cancel = os.path.join(self._out, ".cancel")
        if os.path.exists(cancel):
            os.remove(cancel)
        cmd = [torch_env.training_interpreter(), "-m", torch_env.package_module_name(), "train", dataset,
               "--out", self._out, "--progress-json", *train_argv(context, self.iterations)]
        choice = s.train_existing if self.existing == "PANEL" else self.existing
        cmd.append("--overwrite" if choice == "REPLACE" else "--resume")
        jobs.LIVE[self.kind] = LiveTraining()
        return Job(self.kind, cmd, env=torch_env.child_env(), cancel_file=cancel)

    def on_other_line(self, context, stream, text):
        if stream == "err" and "No module named" in text and "torch" in text:
            settings(context).job_message = "error: torch is missing in the training interpreter (see Preferences)"

    def finished(self, context, rc, cancelled):
        from .ops_io import import_file

        live = jobs.LIVE.get(self.kind)
        if live is not None and live.preview and not os.path.isfile(live.preview):  # a staged run moved it
            live.preview = os.path.join(self._out, "renders", os.path.basename(live.preview))
        ply = (self._result or {}).get("ply") or os.path.join(self._out, "point_cloud.ply")
        if not os.path.exists(ply):
            if cancelled:
                return {"CANCELLED"}
            self.report({"ERROR"}, f"Training finished but wrote no {ply}")
            return {"CANCELLED"}
        try:
            obj, count, _ = import_file(context, ply)
        except Exception as exc:
            self.report({"ERROR"}, f"Could not import the trained splats: {exc}")
            return {"CANCELLED"}
        settings(context).job_message = f"imported {count:,} splats as '{obj.name}'"
        self.report({"INFO"}, settings(context).job_message)
        return {"FINISHED"}


class GS_OT_install_torch(_JobOperator, bpy.types.Operator):
    """Install torch into the add-on's torch folder with pip (in the background)"""

    bl_idname = "gs.install_torch"
    bl_label = "Install torch"
    kind = "install"

    def start_job(self, context):
        self._folder = torch_env.torch_dir()
        os.makedirs(self._folder, exist_ok=True)
        # Blender's Python may come without pip: bootstrap it with ensurepip first
        code = ("import subprocess, sys\n"
                "try:\n    import pip  # noqa: F401\n"
                "except ImportError:\n    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])\n"
                f"sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--upgrade', '--target', "
                f"{self._folder!r}, {TORCH_REQUIREMENT!r}]))\n")
        return Job(self.kind, [torch_env.python_executable(), "-c", code], env=dict(os.environ))  # for this Python

    def on_other_line(self, context, stream, text):  # pip speaks no protocol: show its lines
        settings(context).job_message = text.strip()[:200]

    def finished(self, context, rc, cancelled):
        if cancelled:
            return {"CANCELLED"}
        if self._folder not in sys.path:
            sys.path.append(self._folder)
        torch_env.torch_in_process(recheck=True)
        self.report({"INFO"}, f"torch installed into {self._folder}")
        return {"FINISHED"}


class GS_OT_cancel_job(bpy.types.Operator):
    """Cancel the running background job (finished work is kept)"""

    bl_idname = "gs.cancel_job"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        return bool(jobs.RUNNING) or refuse(cls, "No job is running")

    def execute(self, context):
        for job in list(jobs.RUNNING.values()):
            job.cancel()
        return {"FINISHED"}


classes = (GS_OT_generate, GS_OT_render_dataset, GS_OT_train, GS_OT_install_torch, GS_OT_cancel_job)
