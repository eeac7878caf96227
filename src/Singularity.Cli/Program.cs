using System.CommandLine;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;
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
// A mistake on the command line is told in JSON too when JSON was asked for (before "--", after which words are paths).
bool json = args.TakeWhile(word => word != "--").Contains("--json");
// rsync's habits in send's words: unknown options named, not taken for paths; -h beside others read as rsync's.
if (args[0] == "send")
{
    var (prepared, wrong) = SendCommand.Prepare(args[1..], root.Subcommands.First(command => command.Name == "send"));
    if (wrong is not null) return Errors.ReportUsage(wrong, "sglty send", json);
    args = ["send", .. prepared];
}
// No response files: a word starting with '@' is what it says, as a pattern such as '@eaDir' is to rsync.
var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
// A mistake on the command line is one line that names it, not the whole help behind the error.
// Only when the parser would report errors: help, --version and directives (completions) keep their own actions.
if (parsed.Action is ParseErrorAction)
{
    // A word the parser did not know explains the others ("sglty frob" also lacks a command).
    var error = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
    // The parser says an argument is missing "for command"; the argument's own name says what to give.
    string message = error.Message.StartsWith("Required argument missing", StringComparison.Ordinal) && parsed.CommandResult.Command.Arguments.FirstOrDefault() is { } wanted
        ? $"no {wanted.Name} given" : error.Message;
    return Errors.ReportUsage(message, parsed.CommandResult.Command == root ? "sglty" : $"sglty {parsed.CommandResult.Command.Name}", json);
}
// Ctrl-C or SIGTERM cancels the command, which then says what it left behind; the parser's own handling would end the
// process two seconds later without a word. A second signal ends it at once.
using var interrupted = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    if (interrupted.IsCancellationRequested) return;
    context.Cancel = true;
    Errors.Interrupted = true;
    interrupted.Cancel();
}
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, interrupted.Token).ConfigureAwait(false);
