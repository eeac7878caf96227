using System.CommandLine;
using System.CommandLine.Invocation;
using Singularity.Cli.Commands;
using Singularity.Cli.Display;

var root = new RootCommand("sglty: fast, verified file transfer over several TCP lanes")
{
    RecvCommand.Create(),
    SendCommand.Create(),
    BenchCommand.Create(),
    PartialsCommand.Create(),
};
// Without arguments, the list of commands, as most tools print it; a failure, since nothing was done.
if (args.Length == 0)
{
    await root.Parse(["--help"]).InvokeAsync().ConfigureAwait(false);
    return Errors.Failure;
}
var parsed = root.Parse(args);
// A mistake on the command line is one line that names it, not the whole help behind the error.
// Only when the parser would report errors: help, --version and directives (completions) keep their own actions.
if (parsed.Action is ParseErrorAction)
{
    // A word the parser did not know explains the others ("sglty frob" also lacks a command).
    var error = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
    return Errors.ReportUsage(error.Message, parsed.CommandResult.Command == root ? "sglty" : $"sglty {parsed.CommandResult.Command.Name}");
}
return await parsed.InvokeAsync().ConfigureAwait(false);
