// One Slurm cluster serves every test: run them one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
