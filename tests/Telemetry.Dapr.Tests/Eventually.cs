namespace Telemetry.Dapr.Tests;

/// <summary>Waiting on a condition instead of sleeping: polls until it holds, and fails saying what it waited for.</summary>
public static class Eventually
{
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan timeout) =>
        TrueAsync(() => Task.FromResult(condition()), what, timeout);

    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {timeout.TotalSeconds:F0} s for {what}; it never happened.");
            await Task.Delay(20);
        }
    }
}
