"""bpy-free 3D Gaussian splat trainer (torch + cuda_ext). Entry points: `train.train(TrainConfig)`,
`cli.add_arguments/run` for `gs train DATASET --out DIR`."""
import os

# OpenMP worker threads (torch's and the rasterizer's) sleep instead of spinning while they wait.
# Training shares the CPU with Blender and other programs; with spinning threads a busy 2-core
# machine measured 1.5 it/s instead of 16 it/s. Takes effect when set before torch / the kernels
# load, so this package is imported first by the CLI; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
