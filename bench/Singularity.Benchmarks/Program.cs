using BenchmarkDotNet.Running;

// Run all: dotnet run -c Release --project bench/Singularity.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Singularity.Benchmarks.ShardPathBenchmarks).Assembly).Run(args);
