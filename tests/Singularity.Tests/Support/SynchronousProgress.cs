using Singularity.Engine;

namespace Singularity.Tests.Support;

/// <summary>Reports on the reporting thread (Progress&lt;T&gt; posts to the pool), so a test sees each report as it is made and the last one last.</summary>
public sealed class SynchronousProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
{
    public void Report(TransferProgress value) => report(value);
}
