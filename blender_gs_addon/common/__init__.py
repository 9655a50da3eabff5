"""Small bpy-free helpers shared by the add-on, procgen, the trainer and cuda_ext.

``rotations`` (quaternions and rotation matrices, numpy), ``rotations_torch`` (the same in
torch), ``axes`` (OpenGL and OpenCV camera axes), ``atomic`` (replace a file only once its
new content is complete). Import the submodule you need; this package imports nothing.
"""
