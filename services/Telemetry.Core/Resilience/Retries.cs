using Polly;
using Polly.Retry;

namespace Telemetry.Core.Resilience;

/// <summary>How long retries wait: exponential from <see cref="FirstDelay"/>, capped at <see cref="MaxDelay"/>,
/// with jitter so that workers failing together do not retry together.</summary>
public sealed record Backoff(TimeSpan FirstDelay, TimeSpan MaxDelay)
{
    /// <summary>For a batch that could not be delivered or stored: the first retry soon, then at most every 5 s
    /// while a store or sidecar is down.</summary>
    public static Backoff Delivery { get; } = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));

    /// <summary>For a write that lost a race: a few milliseconds, then up to a quarter second.</summary>
    public static Backoff Conflict { get; } = new(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(250));
}

/// <summary>A failed attempt that is about to be retried; <see cref="Subject"/> names the work (a batch id) when it
/// was run through <see cref="Retries.RunAsync"/>.</summary>
public readonly record struct RetryAttempt(string? Subject, Exception Error, FailureKind Kind, int Attempt, TimeSpan Delay);

/// <summary>
/// The one retry mechanism of the services: Polly resilience pipelines, all with the same capped, jittered
/// exponential backoff (Polly's decorrelated jitter), differing only in what they retry and how often.
/// Build a pipeline once and keep it; it is thread-safe.
/// </summary>
public static class Retries
{
    /// <summary>Attempts in all for a failure that is not transient before the work is given up (and quarantined).
    /// Several, because a classification can be wrong: a failure that passes on the second try was transient.</summary>
    public const int PermanentAttempts = 4;

    private static readonly ResiliencePropertyKey<string> SubjectKey = new("telemetry.subject");

    /// <summary>Runs <paramref name="work"/> through <paramref name="pipeline"/>, naming it <paramref name="subject"/>
    /// for the retry callback (what a log line says was retried).</summary>
    public static async Task RunAsync(this ResiliencePipeline pipeline, string subject, Func<CancellationToken, Task> work,
        CancellationToken cancellationToken = default)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(SubjectKey, subject);
        try
        {
            await pipeline.ExecuteAsync(static async (context, work) => await work(context.CancellationToken).ConfigureAwait(false),
                context, work).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Delivering or storing a batch. Transient failures are retried for as long as they last (an outage
    /// loses nothing); any other failure at most <paramref name="permanentAttempts"/> attempts in all, after which it
    /// is thrown for the caller to quarantine the batch.</summary>
    public static ResiliencePipeline Delivery(FailureClassifier classifier, int permanentAttempts, Backoff? backoff = null,
        Action<RetryAttempt>? onRetry = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permanentAttempts, 1);
        return Build(backoff ?? Backoff.Delivery, time, onRetry, classifier,
            (kind, attempt) => kind == FailureKind.Transient || attempt < permanentAttempts);
    }

    /// <summary>A guarded write that lost a race (<see cref="Storage.ConcurrencyConflictException"/>): read again and
    /// retry, at most <paramref name="maxAttempts"/> attempts in all. Nothing else is retried.</summary>
    public static ResiliencePipeline Conflicts(int maxAttempts, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        return Build(Backoff.Conflict, time, null, ConflictOnly.Instance,
            (kind, attempt) => kind == FailureKind.Transient && attempt < maxAttempts);
    }

    /// <summary>Coordination that loses nothing by trying again (the streamers' shared row plan): every failure is
    /// retried until it works or the caller's token is cancelled.</summary>
    public static ResiliencePipeline Forever(Backoff backoff, Action<RetryAttempt>? onRetry = null, TimeProvider? time = null) =>
        Build(backoff, time, onRetry, FailureClassifier.Default, (_, _) => true);

    private static ResiliencePipeline Build(Backoff backoff, TimeProvider? time, Action<RetryAttempt>? onRetry,
        FailureClassifier classifier, Func<FailureKind, int, bool> retry) =>
        new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System }
            .AddRetry(new RetryStrategyOptions
            {
                // Polly counts attempts from 0: AttemptNumber 0 is the first try that failed.
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } error
                    && !args.Context.CancellationToken.IsCancellationRequested
                    && retry(classifier.Classify(error), args.AttemptNumber + 1)),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = backoff.FirstDelay,
                MaxDelay = backoff.MaxDelay,
                OnRetry = args =>
                {
                    if (onRetry is not null && args.Outcome.Exception is { } error)
                    {
                        var subject = args.Context.Properties.TryGetValue(SubjectKey, out var name) ? name : null;
                        onRetry(new RetryAttempt(subject, error, classifier.Classify(error), args.AttemptNumber + 1, args.RetryDelay));
                    }
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

    /// <summary>Only a lost race counts as worth retrying.</summary>
    private sealed class ConflictOnly : FailureClassifier
    {
        public static readonly ConflictOnly Instance = new();

        protected override bool IsTransient(Exception error) => error is Storage.ConcurrencyConflictException;
    }
}
