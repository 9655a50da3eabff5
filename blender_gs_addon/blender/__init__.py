"""The Blender side of the add-on: operators, panels, preferences, point-cloud splats.

``register(package)`` / ``unregister()`` are called by the top package; the
package name keys the preferences (``blender_gs_addon`` from source, or
``bl_ext.<repo>.gaussian_scenes`` when installed as an extension).
"""
from __future__ import annotations


def _modules():
    from . import dataset_browser, ops_edit, ops_io, ops_jobs, ops_view, panels, prefs, props, training_view

    return props, prefs, ops_io, ops_view, ops_jobs, training_view, dataset_browser, panels, ops_edit


_unregister_classes = None


def register(package: str) -> None:
    import bpy

    from . import addon_package, ops_io, prefs, props

    global _unregister_classes
    addon_package.ADDON_PACKAGE = package
    prefs.GS_AP_preferences.bl_idname = package
    classes = [c for m in _modules() for c in m.classes]
    register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)
    register_classes()
    props.register_properties()
    ops_io.register_menus()


def unregister() -> None:
    from . import jobs, ops_io, props, training_view

    global _unregister_classes
    for job in list(jobs.RUNNING.values()):
        job.cancel()
    jobs.RUNNING.clear()
    training_view.release()
    ops_io.unregister_menus()
    props.unregister_properties()
    if _unregister_classes is not None:
        _unregister_classes()
        _unregister_classes = None
