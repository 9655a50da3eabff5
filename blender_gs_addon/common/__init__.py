"""Small bpy-free helpers shared by the add-on, procgen, the trainer and cuda_ext.

``rotations`` (quaternions and rotation matrices, numpy), ``rotations_torch`` (the same in
torch), ``axes`` (OpenGL and OpenCV camera axes), ``atomic`` (replace a file only once its
new content is complete), ``folder_lock`` (one writer per output folder), ``staged_output``
(``--overwrite`` that builds beside the old output and swaps), ``interrupt`` (Ctrl-C and
SIGTERM that stop even inside a render) and ``cli_args`` (option values checked at parse
time). Import the submodule you need; this package imports nothing.
"""
