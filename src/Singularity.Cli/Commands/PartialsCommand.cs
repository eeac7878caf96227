using System.CommandLine;
using Singularity.Cli.Display;
using Singularity.Engine;

namespace Singularity.Cli.Commands;

/// <summary><c>sglty partials</c>: list, or clean, what interrupted transfers left in a destination.</summary>
internal static class PartialsCommand
{
    public static Command Create()
    {
        var dir = new Option<string>("--dir") { HelpName = "DIR", Description = "the receiver's destination directory", Required = true };
        var clean = new Option<bool>("--clean") { Description = "delete the partial files instead of listing them" };
        var olderThan = CommonOptions.Duration("--older-than", "only those untouched for this long, e.g. 7d, listed or (with --clean) deleted; default 0 (all)");
        var command = new Command("partials", "list or clean partial files of interrupted transfers") { dir, clean, olderThan };
        command.SetAction(result =>
        {
            try
            {
                string directory = result.GetValue(dir)!;
                var age = result.GetValue(olderThan) ?? TimeSpan.Zero;
                if (!Directory.Exists(directory)) throw new SingularityException(ErrorCode.BadPath, $"'{directory}' is not a directory");
                if (result.GetValue(clean))
                {
                    var removed = PartialFiles.Clean(directory, age);
                    foreach (var partial in removed) Console.Out.WriteLine($"removed {Errors.Printable(partial.Path)}");
                    Console.Error.WriteLine($"{Count.Of(removed.Count, "partial file")} removed");
                }
                else
                {
                    var cutoff = DateTime.UtcNow - age;
                    var found = PartialFiles.Find(directory).Where(partial => partial.LastWriteUtc <= cutoff).ToList();
                    foreach (var partial in found)
                        Console.Out.WriteLine($"{partial.LastWriteUtc:yyyy-MM-dd HH:mm:ss}Z  {ByteSize.Format(partial.Bytes),12}  {Errors.Printable(partial.Path)}");
                    Console.Error.WriteLine(Count.Of(found.Count, "partial file"));
                }
                return 0;
            }
            catch (Exception ex)
            {
                return Errors.Report(ex);
            }
        });
        return command;
    }
}
