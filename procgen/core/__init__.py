"""bpy-free file, process and geometry helpers: procgen's own, and the add-on's (which imports them here).

``atomic`` (replace a file only once its new content is complete), ``folder_lock`` (one writer
per output folder), ``staged_output`` (``--overwrite`` that builds beside the old output and
swaps), ``interrupt`` (Ctrl-C and SIGTERM that stop even inside a render), ``disk`` (full-disk
errors named as such), ``child_process`` (children that die with their parent, stale
temporaries), ``cli_args`` (option values checked at parse time), ``jobs_protocol`` (the JSON
progress lines of background jobs), ``ply`` (PLY files of named columns), ``axes`` (OpenGL and
OpenCV camera axes) and ``rotations`` (quaternions and rotation matrices, numpy).
Nothing here imports bpy or torch; import the submodule you need (this package imports nothing).
"""
