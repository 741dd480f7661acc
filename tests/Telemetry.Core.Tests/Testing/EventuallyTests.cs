using Telemetry.Testing;

namespace Telemetry.Core.Tests.Testing;

/// <summary>The wait every test project uses instead of sleeping: it returns once the condition holds, and a
/// timeout says what it waited for and what it saw last.</summary>
public sealed class EventuallyTests
{
    [Fact]
    public async Task Returns_as_soon_as_the_condition_holds()
    {
        var polls = 0;
        await Eventually.UntilAsync(() => ++polls == 3, "the third poll", TimeSpan.FromSeconds(30));
        Assert.Equal(3, polls);
    }

    [Fact]
    public async Task A_timeout_names_what_was_awaited_and_the_last_state_seen()
    {
        var error = await Assert.ThrowsAsync<TimeoutException>(() =>
            Eventually.UntilAsync(() => false, "the queue to drain", TimeSpan.FromMilliseconds(50), () => "depth 4"));
        Assert.Contains("the queue to drain", error.Message);
        Assert.Contains("last seen: depth 4", error.Message);
    }

    [Fact]
    public async Task A_probe_that_throws_is_not_ready_yet_and_its_error_is_reported_on_timeout()
    {
        var calls = 0;
        var value = await Eventually.ValueAsync(() => ++calls < 3 ? throw new HttpRequestException("refused") : Task.FromResult(calls),
            n => n == 3, "the host to answer", TimeSpan.FromSeconds(30));
        Assert.Equal(3, value);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => Eventually.ValueAsync<int>(
            () => throw new HttpRequestException("refused"), _ => true, "the host to answer", TimeSpan.FromMilliseconds(50)));
        Assert.Contains("HttpRequestException: refused", error.Message);
    }

    [Fact]
    public async Task A_task_that_does_not_finish_fails_naming_it()
    {
        var never = new TaskCompletionSource();
        var error = await Assert.ThrowsAsync<TimeoutException>(() =>
            Eventually.CompletesAsync(never.Task, "the streamer finishing", TimeSpan.FromMilliseconds(50)));
        Assert.Contains("the streamer finishing", error.Message);
        await Eventually.CompletesAsync(Task.CompletedTask, "a finished task", TimeSpan.FromMilliseconds(50));
    }
}
