"""bpy-free 3D Gaussian splat trainer (torch + cuda_ext). Entry points: `train.train(TrainConfig)`,
`cli.add_arguments/run` for `gs train DATASET --out DIR`."""
