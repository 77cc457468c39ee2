namespace DiffAutoML.Cli;

/// <summary>Positional arguments and --name value / --flag options, with errors that say which one is wrong.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public CommandLine(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) { Positional.Add(a); continue; }
            var name = a[2..];
            // A repeated option is a mistake (which one was meant?), not "the last one wins".
            if (_options.ContainsKey(name)) throw new UsageException($"--{name} is given more than once.");
            if (flags.Contains(name)) { _options[name] = null; continue; }
            if (i + 1 >= list.Count) throw new UsageException($"--{name} needs a value.");
            _options[name] = list[++i];
        }
    }

    public List<string> Positional { get; } = new();

    public bool Flag(string name) { _read.Add(name); return _options.ContainsKey(name); }

    public string? Text(string name) { _read.Add(name); return _options.GetValueOrDefault(name); }

    public T? Parse<T>(string name, Func<string, T> parse) where T : struct
        => Text(name) is string text ? ParseText(name, text, parse) : null;

    /// <summary><see cref="Parse{T}"/> for a value of reference type (a list).</summary>
    public T? ParseObject<T>(string name, Func<string, T> parse) where T : class
        => Text(name) is string text ? ParseText(name, text, parse) : null;

    private static T ParseText<T>(string name, string text, Func<string, T> parse)
    {
        try { return parse(text); }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new UsageException($"--{name} '{text}' is not valid: {e.Message}");
        }
    }

    /// <summary>Throws for options that no command read (typos).</summary>
    public void RejectUnknown()
    {
        var unknown = _options.Keys.Where(k => !_read.Contains(k)).ToArray();
        if (unknown.Length > 0) throw new UsageException($"Unknown option{(unknown.Length > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}.");
    }

    /// <summary>Durations like 90s, 10m, 1.5h or 00:10:00.</summary>
    public static TimeSpan Duration(string text)
    {
        text = text.Trim();
        if (TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span) && text.Contains(':')) return span;
        double value = double.Parse(text.TrimEnd('s', 'm', 'h'), System.Globalization.CultureInfo.InvariantCulture);
        return text.EndsWith('h') ? TimeSpan.FromHours(value) : text.EndsWith('m') ? TimeSpan.FromMinutes(value) : TimeSpan.FromSeconds(value);
    }
}

/// <summary>A command-line mistake: printed with the usage, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
