using System.Diagnostics;

namespace Singularity.Tests.Support;

/// <summary>Runs the real `sglty` command (the build copied beside the tests) as a child process.</summary>
public static class SgltyProcess
{
    public static Process Start(params string[] arguments) => StartIn(null, arguments);

    /// <summary>As <see cref="Start"/>, in <paramref name="directory"/> (relative paths are read from there); null for this process's.</summary>
    public static Process StartIn(string? directory, params string[] arguments)
    {
        var info = Info(arguments);
        info.WorkingDirectory = directory ?? "";
        return Process.Start(info)!;
    }

    /// <summary>How `sglty` is started with <paramref name="arguments"/>, its output read: the build beside the tests, run by dotnet.</summary>
    private static ProcessStartInfo Info(string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sglty.dll"));
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        return info;
    }

    /// <summary>
    /// Starts `sglty` as an unprivileged user, so that permissions bind it: as user nobody through setpriv when this
    /// process is root, else as this process's own user.
    /// </summary>
    public static Process StartUnprivileged(params string[] arguments)
    {
        if (!Environment.IsPrivilegedProcess) return Start(arguments);
        var info = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", Path.Combine(AppContext.BaseDirectory, "sglty.dll"), .. arguments])
            info.ArgumentList.Add(argument);
        return Process.Start(info)!;
    }

    /// <summary>Starts `sglty` as root of a user namespace of its own (`unshare -U -r`): root there, refused ids it does not map.</summary>
    public static Process StartInUserNamespace(params string[] arguments)
    {
        var info = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["-U", "-r", "dotnet", Path.Combine(AppContext.BaseDirectory, "sglty.dll"), .. arguments])
            info.ArgumentList.Add(argument);
        return Process.Start(info)!;
    }

    /// <summary>
    /// Starts `sglty` in a mount namespace of its own where <paramref name="passwd"/> and <paramref name="group"/> stand
    /// in for /etc/passwd and /etc/group: a system whose users and groups have other ids than this one's.
    /// </summary>
    public static Process StartWithAccounts(string passwd, string group, params string[] arguments)
    {
        var info = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["-m", "sh", "-c", "mount --bind \"$0\" /etc/passwd && mount --bind \"$1\" /etc/group && shift && exec dotnet \"$@\"",
            passwd, group, Path.Combine(AppContext.BaseDirectory, "sglty.dll"), .. arguments])
            info.ArgumentList.Add(argument);
        return Process.Start(info)!;
    }

    /// <summary>Starts `sglty` in a network namespace of its own (`unshare -n`): no route leads anywhere, loopback down too.</summary>
    public static Process StartWithoutNetwork(params string[] arguments)
    {
        var info = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["-n", "dotnet", Path.Combine(AppContext.BaseDirectory, "sglty.dll"), .. arguments])
            info.ArgumentList.Add(argument);
        return Process.Start(info)!;
    }

    /// <summary>Starts `sglty` with at most <paramref name="openFiles"/> open files (soft and hard limit), as a shell's <c>ulimit -n</c> gives it.</summary>
    public static Process StartWithOpenFileLimit(int openFiles, params string[] arguments)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"ulimit -n {openFiles} && exec \"$0\" \"$@\"");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sglty.dll"));
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        return Process.Start(info)!;
    }

    /// <summary>Runs `sglty` to completion with <paramref name="environment"/> added to this process's environment.</summary>
    public static async Task<(int ExitCode, string Out, string Err)> RunWithEnvironmentAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = Info(arguments);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        using var process = Process.Start(info)!;
        return await FinishAsync(process);
    }

    /// <summary>Runs to completion and returns exit code, stdout and stderr; the timeout only guards against a hang.</summary>
    public static Task<(int ExitCode, string Out, string Err)> RunAsync(params string[] arguments) => RunInAsync(null, arguments);

    /// <summary>As <see cref="RunAsync"/>, in <paramref name="directory"/>.</summary>
    public static async Task<(int ExitCode, string Out, string Err)> RunInAsync(string? directory, params string[] arguments)
    {
        using var process = StartIn(directory, arguments);
        return await FinishAsync(process);
    }

    /// <summary>As <see cref="RunAsync"/>, with <paramref name="input"/> on standard input.</summary>
    public static async Task<(int ExitCode, string Out, string Err)> RunWithInputAsync(string input, params string[] arguments)
    {
        var info = Info(arguments);
        info.RedirectStandardInput = true;
        info.StandardInputEncoding = new System.Text.UTF8Encoding(false);
        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        return await FinishAsync(process);
    }

    public static async Task<(int ExitCode, string Out, string Err)> FinishAsync(Process process, TimeSpan? hang = null)
    {
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(hang ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Waits for a file a process writes when it is ready (the receiver's --url-file).</summary>
    public static async Task<string> WaitForFileAsync(string path, Process owner)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!File.Exists(path))
        {
            if (owner.HasExited) throw new InvalidOperationException($"process exited with {owner.ExitCode}: {await owner.StandardError.ReadToEndAsync()}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{path} never appeared");
            await Task.Delay(50);
        }
        return (await File.ReadAllTextAsync(path)).Trim();
    }
}
