using System.Diagnostics;

namespace Telemetry.Testing;

/// <summary>
/// Waits for a condition instead of sleeping for a guessed time. A fixed sleep is either too long (slow tests)
/// or too short on a loaded machine (a flaky test); a poll returns as soon as the condition holds, so its timeout
/// can be generous. A timeout fails with what was awaited, how long, and the last state seen, so a CI log says
/// why without a rerun.
/// </summary>
public static class Eventually
{
    /// <summary>Long enough for a machine running the suite beside other CPU-bound work; a condition that holds
    /// returns at once, so only a broken test ever waits this long.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan LongestPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>Polls <paramref name="condition"/> until it is true. <paramref name="state"/> describes what was
    /// seen instead (for the failure message).</summary>
    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? state = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout, state);

    /// <summary>Polls an asynchronous <paramref name="condition"/> until it is true. An exception from it counts
    /// as "not yet" (a host still starting refuses connections) and is reported if the wait times out.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        await ValueAsync(async () => await condition().ConfigureAwait(false), done => done, what, timeout,
            state is null ? null : _ => state()).ConfigureAwait(false);
    }

    /// <summary>Polls <paramref name="probe"/> until its value satisfies <paramref name="done"/> and returns that
    /// value. <paramref name="describe"/> turns the last value into the failure message's "last seen".</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null,
        Func<T, string>? describe = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        var poll = FirstPoll;
        var seen = "nothing yet";
        while (true)
        {
            try
            {
                var value = await probe().ConfigureAwait(false);
                if (done(value)) return value;
                seen = describe?.Invoke(value) ?? $"{value}";
            }
            catch (Exception error) when (error is not TimeoutException)
            {
                seen = $"{error.GetType().Name}: {error.Message}";
            }
            if (clock.Elapsed >= limit)
            {
                throw new TimeoutException($"Waited {clock.Elapsed.TotalSeconds:F1}s for {what}; last seen: {seen}");
            }
            await Task.Delay(poll).ConfigureAwait(false);
            poll = TimeSpan.FromTicks(Math.Min(LongestPoll.Ticks, poll.Ticks * 2));
        }
    }

    /// <summary>Waits for <paramref name="task"/> to finish (and rethrows its failure); fails after the timeout
    /// naming <paramref name="what"/>.</summary>
    public static async Task CompletesAsync(Task task, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        var limit = timeout ?? DefaultTimeout;
        try
        {
            await task.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            throw new TimeoutException($"Waited {limit.TotalSeconds:F1}s for {what}" + (state is null ? "" : $"; last seen: {state()}"));
        }
    }

    /// <summary><see cref="CompletesAsync(Task, string, TimeSpan?, Func{string}?)"/> for a task with a result.</summary>
    public static async Task<T> CompletesAsync<T>(Task<T> task, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        await CompletesAsync((Task)task, what, timeout, state).ConfigureAwait(false);
        return await task.ConfigureAwait(false);
    }
}
