"""Building blocks that every generator uses to make geometry.

``mesh_arrays`` (meshes as numpy arrays, ``Geo``, bpy-free: what asset factories return),
``blender_mesh`` (Blender meshes and objects from those arrays, collections, tags),
``instancing`` (many copies as one object through geometry nodes) and ``node_groups``
(shader and geometry node groups built from Python).
"""
