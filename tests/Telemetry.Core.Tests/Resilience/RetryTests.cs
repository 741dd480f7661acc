using Microsoft.Data.Sqlite;
using Telemetry.Core.Resilience;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.Storage.Sqlite;

namespace Telemetry.Core.Tests.Resilience;

/// <summary>The one retry mechanism: which failures wait, which give up, and the ETag read-modify-write on top.</summary>
public sealed class RetryTests
{
    private static readonly Backoff Fast = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5));

    public static TheoryData<Exception, FailureKind> Failures => new()
    {
        { new ConcurrencyConflictException("k"), FailureKind.Transient },
        { new WindowWriteException("still conflicting"), FailureKind.Transient },
        { new TimeoutException(), FailureKind.Transient },
        { new HttpRequestException("refused"), FailureKind.Transient },
        { new IOException("reset"), FailureKind.Transient },
        { new SqliteException("database is locked", 5), FailureKind.Transient },
        { new SqliteException("disk I/O error", 10), FailureKind.Transient },
        { new SqliteException("database or disk is full", 13), FailureKind.Transient },
        { new InvalidOperationException("wrapper", new SqliteException("database is locked", 5)), FailureKind.Transient },
        { new InvalidOperationException("wrapper", new TimeoutException()), FailureKind.Transient },
        { new AggregateException(new TimeoutException(), new IOException()), FailureKind.Transient },
        { new SqliteException("constraint failed", 19), FailureKind.Permanent },
        { new SqliteException("database disk image is malformed", 11), FailureKind.Permanent },
        { new InvalidDataException("bad segment"), FailureKind.Permanent },
        { new ArgumentException("bad"), FailureKind.Permanent },
        { new AggregateException(new TimeoutException(), new InvalidDataException()), FailureKind.Permanent },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void Failures_are_classified_by_whether_waiting_can_fix_them(Exception error, FailureKind kind)
    {
        // The SQLite adapter's classifier is the core's plus SQLite's result codes.
        Assert.Equal(kind, new SqliteFailureClassifier().Classify(error));
        if (!IsSqlite(error)) Assert.Equal(kind, FailureClassifier.Default.Classify(error));
    }

    [Fact]
    public void The_core_classifier_knows_no_storage_engine() =>
        Assert.Equal(FailureKind.Permanent, FailureClassifier.Default.Classify(new SqliteException("database is locked", 5)));

    private static bool IsSqlite(Exception error) =>
        error is SqliteException || (error.InnerException is { } inner && IsSqlite(inner))
        || (error is AggregateException aggregate && aggregate.InnerExceptions.Any(IsSqlite));

    [Fact]
    public async Task Delivery_retries_a_transient_failure_for_as_long_as_it_lasts()
    {
        var calls = 0;
        var retries = new List<RetryAttempt>();
        var pipeline = Retries.Delivery(FailureClassifier.Default, permanentAttempts: 2, Fast, retries.Add);

        await pipeline.RunAsync("batch-1", _ => ++calls <= 25 ? throw new TimeoutException() : Task.CompletedTask);

        Assert.Equal(26, calls);
        Assert.Equal(25, retries.Count);
        Assert.All(retries, r => Assert.Equal(("batch-1", FailureKind.Transient), (r.Subject, r.Kind)));
        Assert.All(retries, r => Assert.InRange(r.Delay, TimeSpan.Zero, Fast.MaxDelay));
    }

    [Fact]
    public async Task Delivery_gives_a_permanent_failure_a_bounded_number_of_attempts_then_throws_it()
    {
        var calls = 0;
        var pipeline = Retries.Delivery(FailureClassifier.Default, permanentAttempts: 3, Fast);

        await Assert.ThrowsAsync<InvalidDataException>(() => pipeline.RunAsync("poison", _ =>
        {
            calls++;
            throw new InvalidDataException("poison");
        }));

        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Conflicts_retries_only_a_lost_race_and_at_most_the_attempts_given()
    {
        var pipeline = Retries.Conflicts(maxAttempts: 4);
        var calls = 0;
        await Assert.ThrowsAsync<ConcurrencyConflictException>(() => pipeline.ExecuteAsync(_ =>
        {
            calls++;
            throw new ConcurrencyConflictException("k");
        }).AsTask());
        Assert.Equal(4, calls);

        calls = 0;
        await Assert.ThrowsAsync<TimeoutException>(() => pipeline.ExecuteAsync(_ =>
        {
            calls++;
            throw new TimeoutException();
        }).AsTask());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_read_modify_write_that_loses_a_race_reads_again_and_applies_its_change_to_the_winner()
    {
        var store = new MemoryKeyValueStore();
        await store.SaveAsync("counter", "1"u8.ToArray(), WriteCondition.Any);
        var interfered = false;

        var result = await store.UpdateAsync("counter", item =>
        {
            var value = int.Parse(System.Text.Encoding.UTF8.GetString(item!.Value));
            if (!interfered)
            {
                // Another writer commits between this read and this write: the guarded write must fail and re-read.
                interfered = true;
                store.SaveAsync("counter", "10"u8.ToArray(), WriteCondition.Any).GetAwaiter().GetResult();
            }
            return Change<int>.Write(System.Text.Encoding.UTF8.GetBytes($"{value + 1}"), value + 1);
        });

        Assert.Equal(11, result);
        Assert.Equal("11", System.Text.Encoding.UTF8.GetString((await store.GetAsync("counter"))!.Value));
    }

    [Fact]
    public async Task A_read_modify_write_of_a_missing_key_creates_it_and_keep_writes_nothing()
    {
        var store = new MemoryKeyValueStore();
        Assert.Equal("created", await store.UpdateAsync("k", item => Change<string>.Write("v"u8.ToArray(), item is null ? "created" : "existed")));
        var etag = (await store.GetAsync("k"))!.ETag;

        Assert.Equal("kept", await store.UpdateAsync("k", _ => Change<string>.Keep("kept")));
        Assert.Equal(etag, (await store.GetAsync("k"))!.ETag);
    }
}
