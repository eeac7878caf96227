using System.Diagnostics;

namespace Singularity.Tests.Support;

/// <summary>
/// The native build of `sglty` (Native AOT), as the README has users publish it, made once per test run. The other
/// tests run the JIT build; a defect of the native build alone (a P/Invoke that keeps no error number, code the
/// trimmer drops) shows only here. Null where this machine cannot make it: not Linux, or no clang.
/// </summary>
public static class NativeSglty
{
    private static readonly Lazy<Task<string?>> Built = new(PublishAsync);
    private static readonly TempDirectory Output = new();

    static NativeSglty() => AppDomain.CurrentDomain.ProcessExit += (_, _) => Output.Dispose();

    /// <summary>The native executable, published on first use; null where it cannot be made here.</summary>
    public static Task<string?> PathAsync() => Built.Value;

    public static Process Start(string executable, params string[] arguments)
    {
        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        return Process.Start(info)!;
    }

    public static async Task<(int ExitCode, string Out, string Err)> RunAsync(string executable, params string[] arguments)
    {
        using var process = Start(executable, arguments);
        return await SgltyProcess.FinishAsync(process);
    }

    private static async Task<string?> PublishAsync()
    {
        if (!OperatingSystem.IsLinux() || !OnPath("clang")) return null;
        string project = Path.Combine(RepositoryRoot(), "src", "Singularity.Cli");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["publish", project, "-c", "Release", "-o", Output.Path, "--disable-build-servers", "-nologo"])
            info.ArgumentList.Add(argument);
        using var publish = Process.Start(info)!;
        var (exit, output, error) = await SgltyProcess.FinishAsync(publish, TimeSpan.FromMinutes(10));
        if (exit != 0) throw new InvalidOperationException($"dotnet publish failed ({exit}): {output}{error}");
        return Path.Combine(Output.Path, "sglty");
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(directory => File.Exists(Path.Combine(directory, program)));

    /// <summary>The checkout the tests were built from: the nearest directory above them with the solution.</summary>
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Singularity.slnx"))) return directory.FullName;
        throw new InvalidOperationException($"no Singularity.slnx above {AppContext.BaseDirectory}");
    }
}
