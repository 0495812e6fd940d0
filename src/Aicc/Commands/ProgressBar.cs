namespace Aicc.Commands;

/// <summary>A one-line progress bar on stderr, drawn only when stderr is a terminal.</summary>
internal sealed class ProgressBar : IProgress<double>, IDisposable
{
    private readonly string _label;
    private readonly Lock _gate = new();
    private int _shown = -1;
    private bool _done;

    private ProgressBar(string label) => _label = label;

    public static ProgressBar? ForTerminal(string label) => Console.IsErrorRedirected ? null : new ProgressBar(label);

    public void Report(double value)
    {
        var permille = (int)(Math.Clamp(value, 0, 1) * 1000);
        lock (_gate)
        {
            if (_done || permille / 5 == _shown / 5)
            {
                return;
            }

            _shown = permille;
            var filled = permille * 30 / 1000;
            Console.Error.Write($"\r{_label} [{new string('#', filled)}{new string('.', 30 - filled)}] {permille / 10.0,5:0.0}%");
        }
    }

    /// <summary>Progress as a count of items done.</summary>
    public void Report(int done, int total) => Report(total == 0 ? 1 : done / (double)total);

    public void Dispose()
    {
        lock (_gate)
        {
            if (!_done)
            {
                _done = true;
                Console.Error.Write("\r" + new string(' ', _label.Length + 42) + "\r");
            }
        }
    }
}
