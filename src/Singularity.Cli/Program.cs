using System.CommandLine;
using Singularity.Cli.Commands;

var root = new RootCommand("sglty: fast, verified file transfer over several TCP lanes")
{
    RecvCommand.Create(),
    SendCommand.Create(),
    BenchCommand.Create(),
    PartialsCommand.Create(),
};
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
