using DiffAutoML.Cli;

// diffautoml: train a DiffAutoML model on a folder of images, or predict with a saved one.
try
{
    var command = args.FirstOrDefault();
    // "train --help" asks for help, not for a folder named --help (option values are never -h or --help).
    if (command is "train" or "predict" && args.Skip(1).Any(a => a is "--help" or "-h")) return Help.Print();
    return command switch
    {
        "train" => TrainCommand.Run(args.Skip(1).ToArray()),
        "predict" => PredictCommand.Run(args.Skip(1).ToArray()),
        null or "--help" or "-h" or "help" => Help.Print(),
        "--version" or "version" => VersionInfo.Print(),
        _ => throw new UsageException($"Unknown command '{command}'."),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    Console.Error.WriteLine("Run 'diffautoml --help' for usage.");
    return 2;
}
catch (System.Runtime.InteropServices.ExternalException e)
{
    // libtorch failed inside training (docs/troubleshooting.md): the finished epochs are in the checkpoint.
    Console.Error.WriteLine("error: libtorch failed: " + e.Message.Split('\n')[0]);
    Console.Error.WriteLine("The last finished epoch is kept in <out>/checkpoints: run the same command again to continue (see docs/troubleshooting.md).");
    Console.Error.WriteLine("details: " + e);
    return 1;
}
catch (Exception e) when (e is DiffAutoML.ML.Data.ImageDataException or InvalidOperationException or ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or TimeoutException)
{
    // The library's errors name what was wrong (column, row, file, option); a stack trace adds nothing for a CLI user.
    Console.Error.WriteLine("error: " + e.Message);
    return 1;
}
