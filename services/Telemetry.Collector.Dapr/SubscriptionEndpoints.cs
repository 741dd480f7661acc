using System.Diagnostics;
using System.Text.Json;
using Dapr;
using Dapr.AspNetCore;
using Microsoft.Extensions.Options;
using Telemetry.Core.Model;
using Telemetry.Core.Pipeline;
using Telemetry.Dapr;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;

namespace Telemetry.Collector;

/// <summary>
/// The Dapr subscription. Bulk subscribe with a short wait gathers several messages per delivery; the
/// samples of every decodable entry are stored in one append (a few state calls for the lot), then each
/// entry is answered: SUCCESS once stored, RETRY when the store failed (a transient fault: the message comes
/// back), DROP when the entry can never be processed (it goes to the dead-letter topic). Single CloudEvent
/// deliveries, which Dapr sends when bulk subscribe is off, reach the same route already unwrapped by
/// <c>UseCloudEvents</c> and get the same answers.
/// </summary>
public static partial class SubscriptionEndpoints
{
    public const string Route = "/subscriptions/telemetry";

    /// <summary>Where daprd hands what reached the dead-letter topic: messages DROPped as undecodable, and messages
    /// whose RETRY outlasted the inbound retry policy (components/resiliency.yaml) — e.g. a store outage of minutes.</summary>
    public const string DeadLetterRoute = "/subscriptions/telemetry-deadletter";
    private const int MaxMessagesPerDelivery = 100;
    // Long enough to gather a few published batches per delivery at the natural rate, so each append carries
    // several samples per GPU: every append rewrites the GPU's manifest. Measured at the natural rate (figure 3d,
    // docs/performance.md): 40 ms wrote 11.6x the stored bytes, 250 ms 6.5x; after the manifest gained latest
    // values, 250 ms wrote 9.7x and 500 ms 7.4x. Short enough that data is queryable within a second.
    private const int MaxAwaitMilliseconds = 500;

    /// <summary>A delivery larger than this is dropped unread. Far above what a bulk delivery of full batches
    /// weighs (Dapr's own default body limit is 4 MB), far below what would strain memory.</summary>
    public const long MaxDeliveryBytes = 16L * 1024 * 1024;

    public static IEndpointRouteBuilder MapTelemetrySubscription(this IEndpointRouteBuilder app, int port)
    {
        var dapr = app.ServiceProvider.GetRequiredService<IOptions<DaprOptions>>().Value;
        app.MapSubscribeHandler().RequireLocalPort(port);
        app.MapPost(Route, Deliver)
            .WithTopic(new TopicOptions { PubsubName = dapr.PubSubName, Name = dapr.Topic, DeadLetterTopic = dapr.DeadLetterTopic })
            .WithMetadata(new BulkSubscribeAttribute(dapr.Topic, MaxMessagesPerDelivery, MaxAwaitMilliseconds))
            .AddEndpointFilter<AppTokenFilter>()
            .RequireLocalPort(port)
            .ExcludeFromDescription();
        // The dead-letter topic is consumed too: each arrival is counted, and stored if it can be now (the store is
        // back); what still fails is answered RETRY and redelivered under the same inbound policy. It has no dead-letter
        // topic of its own, so a message that fails even that is acknowledged; it stays in the Redis stream (until
        // maxLenApprox trims it) for an operator to replay.
        app.MapPost(DeadLetterRoute, DeliverDeadLetters)
            .WithTopic(new TopicOptions { PubsubName = dapr.PubSubName, Name = dapr.DeadLetterTopic })
            .WithMetadata(new BulkSubscribeAttribute(dapr.DeadLetterTopic, MaxMessagesPerDelivery, MaxAwaitMilliseconds))
            .AddEndpointFilter<AppTokenFilter>()
            .RequireHost($"*:{port}")
            .ExcludeFromDescription();
        return app;
    }

    internal static Task<IResult> Deliver(HttpRequest request, IBatchSink sink, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        DeliverAsync(request, sink, loggers, deadLetters: false, cancellationToken);

    internal static Task<IResult> DeliverDeadLetters(HttpRequest request, IBatchSink sink, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        DeliverAsync(request, sink, loggers, deadLetters: true, cancellationToken);

    private static async Task<IResult> DeliverAsync(HttpRequest request, IBatchSink sink, ILoggerFactory loggers, bool deadLetters, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(typeof(SubscriptionEndpoints));
        var answer = await AnswerAsync(request, sink, logger, cancellationToken);
        if (deadLetters)
        {
            var statuses = answer is BulkSubscribeAppResponse bulk ? bulk.Statuses.Select(s => s.Status.ToString()) : [((SingleAnswer)answer).Status];
            foreach (var status in statuses) TelemetryMetrics.DeadLetterMessages.WithLabels(status.ToLowerInvariant()).Inc();
        }
        return Results.Json(answer);
    }

    private static async Task<object> AnswerAsync(HttpRequest request, IBatchSink sink, ILogger logger, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxDeliveryBytes)
        {
            Dropped(logger, "too_large", $"body of {request.ContentLength} bytes is over the {MaxDeliveryBytes}-byte limit");
            return new SingleAnswer("DROP");
        }
        Delivery delivery;
        try
        {
            delivery = await DeliveryBody.ReadAsync(request.Body, request.ContentLength, cancellationToken);
        }
        catch (JsonException error)
        {
            Dropped(logger, "undecodable", $"body is not JSON: {error.Message}");
            return new SingleAnswer("DROP");
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            Dropped(logger, "too_large", error.Message);
            return new SingleAnswer("DROP");
        }
        return delivery.IsBulk
            ? await DeliverBulkAsync(delivery.Messages, sink, logger, cancellationToken)
            : new SingleAnswer(await DeliverSingleAsync(delivery.Messages[0], SingleOrigin(request), sink, logger, cancellationToken));
    }

    private static async Task<string> DeliverSingleAsync(DeliveredMessage message, ActivityContext? origin, IBatchSink sink, ILogger logger, CancellationToken cancellationToken)
    {
        if (message.Batch is not { } batch)
        {
            Dropped(logger, "wrong_schema", message.Problem!);
            return "DROP";
        }
        return await StoreAsync([batch], [origin], sink, logger, cancellationToken) ? "SUCCESS" : "RETRY";
    }

    /// <summary>The trace a single delivery continues. daprd sends it as the <c>traceparent</c> header: its callback span,
    /// a child of the context in the CloudEvent (dapr <c>pkg/runtime/subscription/postman/http/http.go</c>, <c>Deliver</c>:
    /// <c>StartInternalCallbackSpan</c> with the event's <c>traceparent</c>, then <c>InvokeMethod</c> with that context).
    /// When the server span already continues it, the delivery nests under that.</summary>
    private static ActivityContext? SingleOrigin(HttpRequest request)
    {
        var origin = PipelineTracing.ParseTraceParent(request.Headers["traceparent"], request.Headers["tracestate"]);
        return Activity.Current is { } server && origin is { } remote && server.TraceId == remote.TraceId ? server.Context : origin;
    }

    private static async Task<BulkSubscribeAppResponse> DeliverBulkAsync(IReadOnlyList<DeliveredMessage> entries, IBatchSink sink, ILogger logger, CancellationToken cancellationToken)
    {
        var answers = new List<BulkSubscribeAppResponseEntry>();
        var decoded = new List<(string EntryId, TelemetryBatch Batch, ActivityContext? Origin)>();
        foreach (var entry in entries)
        {
            if (entry.Batch is { } batch)
            {
                decoded.Add((entry.EntryId, batch, entry.Origin));
                continue;
            }
            Dropped(logger, "wrong_schema", $"bulk entry {entry.EntryId}: {entry.Problem}");
            answers.Add(new BulkSubscribeAppResponseEntry(entry.EntryId, BulkSubscribeAppResponseStatus.DROP));
        }
        if (decoded.Count > 0)
        {
            var stored = await StoreAsync(decoded.ConvertAll(d => d.Batch), decoded.ConvertAll(d => d.Origin), sink, logger, cancellationToken);
            var status = stored ? BulkSubscribeAppResponseStatus.SUCCESS : BulkSubscribeAppResponseStatus.RETRY;
            foreach (var (entryId, _, _) in decoded) answers.Add(new BulkSubscribeAppResponseEntry(entryId, status));
        }
        return new BulkSubscribeAppResponse(answers);
    }

    /// <summary>True when stored; false when the store failed and the messages should come again. Each batch's trace
    /// (<paramref name="origins"/>, where the message carried one) continues into the store.</summary>
    private static async Task<bool> StoreAsync(List<TelemetryBatch> batches, List<ActivityContext?> origins, IBatchSink sink, ILogger logger, CancellationToken cancellationToken)
    {
        var combined = batches.Count == 1
            ? batches[0]
            : new TelemetryBatch(batches[0].BatchId + $"+{batches.Count - 1}", [.. batches.SelectMany(b => b.Gpus)]);
        using var delivery = PipelineTracing.StartDelivery(origins.OfType<ActivityContext>(), "dapr", combined.BatchId, combined.SampleCount);
        try
        {
            await sink.IngestAsync(combined, cancellationToken);
            return true;
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            delivery.Fail(error);
            LogRetry(logger, combined.BatchId, error.GetBaseException().Message);
            return false;
        }
    }

    internal static void Dropped(ILogger logger, string reason, string detail)
    {
        TelemetryMetrics.MessagesDropped.WithLabels(reason).Inc();
        LogDropped(logger, reason, detail);
    }

    private sealed record SingleAnswer(string Status)
    {
        [System.Text.Json.Serialization.JsonPropertyName("status")]
        public string Status { get; } = Status;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropping a message ({Reason}) to the dead-letter topic: {Detail}")]
    private static partial void LogDropped(ILogger logger, string reason, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storing {BatchId} failed, asking Dapr to redeliver: {Reason}")]
    private static partial void LogRetry(ILogger logger, string batchId, string reason);
}
