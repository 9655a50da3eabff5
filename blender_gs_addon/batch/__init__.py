"""Batch generation: many seeds, one task and one child process per seed, on a local pool, Ray or Slurm.

``manifest`` (the per-seed journal that only the driver writes), ``scenes`` (what a finished
scene folder is, and ``index.json``), ``task`` (one seed as a child process with a time limit,
its own log and its peak memory; runs wherever a backend places it), ``child`` (the child's
entry point), ``faults`` (fault injection for tests: the switches that make a child crash or
hang), ``backends`` (local, ray, slurm), ``driver`` (the scheduling loop, progress and summary)
and ``cli`` (``batch``). Seed folders are named by ``procgen.generate_cli.seed_dir``.
bpy-free: Blender runs only in the children.
"""
