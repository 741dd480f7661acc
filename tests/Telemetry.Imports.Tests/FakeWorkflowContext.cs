using Dapr.Workflow;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Telemetry.Imports.Tests;

/// <summary>
/// A hand-made <see cref="WorkflowContext"/> (the SDK's documented pattern: the context is abstract, so a test
/// supplies its own). Activities are test delegates; the retry policy in <see cref="WorkflowTaskOptions"/> is
/// honoured the way the runtime does (up to MaxNumberOfAttempts, then <see cref="WorkflowTaskFailedException"/>).
/// </summary>
internal sealed class FakeWorkflowContext(string instanceId) : WorkflowContext
{
    private readonly Dictionary<string, Func<object?, Task<object?>>> _activities = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<object?>> _events = new(StringComparer.Ordinal);

    public List<(string Name, object? Input, WorkflowTaskOptions? Options, int Attempt)> Calls { get; } = [];
    public List<object?> CustomStatuses { get; } = [];
    public List<DateTime> Timers { get; } = [];

    /// <summary>The input given to <see cref="ContinueAsNew"/>, if the workflow continued as new.</summary>
    public object? ContinuedWith { get; private set; }
    public bool ContinuedAsNew { get; private set; }

    public void OnActivity<TIn, TOut>(string name, Func<TIn, Task<TOut>> run) =>
        _activities[name] = async input => await run((TIn)input!);

    public void RaiseEvent(string name, object? payload) => EventSource(name).TrySetResult(payload);

    private TaskCompletionSource<object?> EventSource(string name)
    {
        if (!_events.TryGetValue(name, out var source))
            _events[name] = source = new TaskCompletionSource<object?>(); // continuations inline: raised means completed
        return source;
    }

    public override async Task<T> CallActivityAsync<T>(string name, object? input = null, WorkflowTaskOptions? options = null)
    {
        var attempts = options?.RetryPolicy?.MaxNumberOfAttempts ?? 1;
        for (var attempt = 1; ; attempt++)
        {
            Calls.Add((name, input, options, attempt));
            try
            {
                return (T)(await _activities[name](input))!;
            }
            catch (Exception error) when (attempt < attempts)
            {
                _ = error; // retried, as the runtime does
            }
            catch (Exception error)
            {
                throw new WorkflowTaskFailedException($"Activity '{name}' failed: {error.Message}",
                    new WorkflowTaskFailureDetails(error.GetType().FullName!, error.Message));
            }
        }
    }

    public override Task<T> WaitForExternalEventAsync<T>(string eventName, CancellationToken cancellationToken = default) =>
        EventSource(eventName).Task.ContinueWith(t => (T)t.Result!, cancellationToken,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    public override void SetCustomStatus(object? customStatus) => CustomStatuses.Add(customStatus);

    public override string Name => "ImportWorkflow";
    public override string InstanceId => instanceId;
    public override DateTime CurrentUtcDateTime { get; } = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    public override bool IsReplaying => false;
    public override bool IsPatched(string patchName) => true;
    public override Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken)
    {
        Timers.Add(fireAt);
        return Task.CompletedTask;
    }
    public override void SendEvent(string instanceId, string eventName, object payload) => throw new NotSupportedException();
    public override Task<TResult> CallChildWorkflowAsync<TResult>(string workflowName, object? input = null, ChildWorkflowTaskOptions? options = null) =>
        throw new NotSupportedException();
    public override ILogger CreateReplaySafeLogger(string categoryName) => NullLogger.Instance;
    public override ILogger CreateReplaySafeLogger(Type type) => NullLogger.Instance;
    public override ILogger CreateReplaySafeLogger<T>() => NullLogger.Instance;
    public override void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true)
    {
        Assert.True(preserveUnprocessedEvents, "a cancel event raised meanwhile must survive the new generation");
        (ContinuedAsNew, ContinuedWith) = (true, newInput);
    }
    public override Guid NewGuid() => Guid.NewGuid();
    public override PropagatedHistory GetPropagatedHistory() => throw new NotSupportedException();
}
