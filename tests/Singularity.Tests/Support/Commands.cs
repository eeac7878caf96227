using System.Diagnostics;

namespace Singularity.Tests.Support;

/// <summary>Runs system commands a test needs beside the code under test (mount, the shell).</summary>
public static class Commands
{
    /// <summary>What <paramref name="command"/> printed on stdout, or null when it could not run or failed.</summary>
    public static string? Output(string command, params string[] arguments)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Whether rsync <paramref name="major"/>.<paramref name="minor"/> or later is installed, for the tests that compare with it.</summary>
    public static bool RsyncAtLeast(int major, int minor)
    {
        var version = System.Text.RegularExpressions.Regex.Match(Output("rsync", "--version") ?? "", @"version (\d+)\.(\d+)");
        return version.Success && (int.Parse(version.Groups[1].Value), int.Parse(version.Groups[2].Value)).CompareTo((major, minor)) >= 0;
    }

    /// <summary>Runs <paramref name="command"/> to its end; true if it exists and exits 0.</summary>
    public static bool Run(string command, params string[] arguments)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(info)!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
