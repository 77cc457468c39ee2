using DiffAutoML.Cli;

// diffautoml: train a DiffAutoML model on a folder of images, or predict with a saved one.
try
{
    var command = args.FirstOrDefault();
    return command switch
    {
        "train" => TrainCommand.Run(args.Skip(1).ToArray()),
        "predict" => PredictCommand.Run(args.Skip(1).ToArray()),
        null or "--help" or "-h" or "help" => Help.Print(),
        _ => throw new UsageException($"Unknown command '{command}'."),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    Console.Error.WriteLine("Run 'diffautoml --help' for usage.");
    return 2;
}
