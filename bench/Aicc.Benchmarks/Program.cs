using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Aicc.Benchmarks.PlacementBenchmarks).Assembly).Run(args);
