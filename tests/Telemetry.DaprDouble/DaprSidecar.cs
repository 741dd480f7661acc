using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Telemetry.DaprDouble;

public sealed class SidecarOptions
{
    /// <summary>Token callers must send as <c>dapr-api-token</c> (daprd's DAPR_API_TOKEN); null: no auth.</summary>
    public string? DaprApiToken { get; set; }

    /// <summary>Token the sidecar sends to the app as <c>dapr-api-token</c> (daprd's APP_API_TOKEN).</summary>
    public string? AppApiToken { get; set; }

    /// <summary>Client for the app channel, e.g. <c>TestServer.CreateClient()</c>; connected during start.</summary>
    public HttpClient? AppChannel { get; set; }

    /// <summary>The app's base address when it listens on a real port; connected during start.</summary>
    public Uri? AppAddress { get; set; }

    /// <summary>Single (non-bulk) deliveries a sidecar runs at once per subscription (daprd runs them in parallel).</summary>
    public int DeliveryConcurrency { get; set; } = 1;

    /// <summary>Fixed ports (0 = any free one), so a test can point an app at a sidecar that starts later.</summary>
    public int GrpcPort { get; set; }
    public int HttpPort { get; set; }

    /// <summary>Replaces the gRPC service, to override a <see cref="DaprRuntimeService"/> handler.</summary>
    public Func<DaprSidecar, DaprRuntimeService>? ServiceFactory { get; set; }
}

internal enum Outcome { Success, Retry, Drop }

/// <summary>
/// One daprd: a gRPC endpoint (HTTP/2 cleartext) speaking the Dapr runtime protocol, an HTTP/1.1 endpoint with
/// the health checks, and an app channel over which it reads subscriptions and delivers messages.
/// </summary>
public sealed class DaprSidecar : IAsyncDisposable
{
    private readonly ConcurrentDictionary<PendingDelivery, Subscription> _inFlight = new(ReferenceEqualityComparer.Instance);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _workers = [];
    private WebApplication? _host;
    private HttpClient? _app;
    private bool _ownsApp;
    private IReadOnlyList<Subscription> _subscriptions = [];

    internal DaprSidecar(DaprBackend backend, string appId, SidecarOptions options)
    {
        Backend = backend;
        AppId = appId;
        Options = options;
    }

    public DaprBackend Backend { get; }
    public string AppId { get; }
    public SidecarOptions Options { get; }

    /// <summary>gRPC calls served, by method name (e.g. <c>Calls["PublishEvent"]</c>).</summary>
    public CallCounters Calls { get; } = new();
    public DeliveryCounters Counters { get; } = new();

    /// <summary>http://127.0.0.1:port of the gRPC (h2c) endpoint: the app's DAPR_GRPC_ENDPOINT.</summary>
    public string GrpcEndpoint { get; private set; } = "";
    /// <summary>http://127.0.0.1:port of the HTTP/1.1 endpoint: the app's DAPR_HTTP_ENDPOINT.</summary>
    public string HttpEndpoint { get; private set; } = "";

    public bool IsRunning => _host is not null && !_stopping.IsCancellationRequested;

    /// <summary>Subscriptions the app declared and the sidecar honours.</summary>
    public IReadOnlyList<Subscription> Subscriptions => _subscriptions;

    /// <summary>Subscriptions naming a pub/sub this app cannot see (unknown or out of scope); daprd skips them too.</summary>
    public IReadOnlyList<Subscription> SkippedSubscriptions { get; private set; } = [];

    internal ConcurrentDictionary<string, string> ExtendedMetadata { get; } = new();

    private readonly ConcurrentDictionary<string, CircuitBreaker> _breakers = new(StringComparer.Ordinal);

    /// <summary>This sidecar's outbound circuit breaker for a component, if the Resiliency spec gives it one. Each
    /// daprd keeps its own breaker state.</summary>
    public CircuitBreaker? OutboundBreaker(string component) =>
        Backend.Resiliency?.For(component, AppId)?.OutboundBreaker is { } policy
            ? _breakers.GetOrAdd(component, _ => new CircuitBreaker(policy, Backend.Time))
            : null;

    /// <summary>Configuration an app under test needs to reach this sidecar.</summary>
    public IReadOnlyDictionary<string, string?> AppConfiguration => new Dictionary<string, string?>
    {
        ["DAPR_GRPC_ENDPOINT"] = GrpcEndpoint,
        ["DAPR_HTTP_ENDPOINT"] = HttpEndpoint,
        ["DAPR_API_TOKEN"] = Options.DaprApiToken,
        ["APP_API_TOKEN"] = Options.AppApiToken,
        ["APP_ID"] = AppId,
    };

    internal async Task StartAsync()
    {
        ListenOptions? grpc = null, http = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Two ports like daprd: gRPC needs HTTP/2 without TLS (prior knowledge), the SDK's health checks use HTTP/1.1.
            k.Listen(IPAddress.Loopback, Options.GrpcPort, o => { o.Protocols = HttpProtocols.Http2; grpc = o; });
            k.Listen(IPAddress.Loopback, Options.HttpPort, o => { o.Protocols = HttpProtocols.Http1; http = o; });
        });
        builder.Services.AddGrpc(o => o.EnableDetailedErrors = true);
        builder.Services.AddSingleton(Options.ServiceFactory?.Invoke(this) ?? new DaprRuntimeService(this));

        var app = builder.Build();
        app.MapGrpcService<DaprRuntimeService>();
        app.MapGet("/v1.0/healthz", () => Results.NoContent());
        app.MapGet("/v1.0/healthz/outbound", () => Results.NoContent());
        await app.StartAsync().ConfigureAwait(false);
        _host = app;

        // Kestrel writes the bound ephemeral port back into the ListenOptions.
        GrpcEndpoint = $"http://127.0.0.1:{grpc!.IPEndPoint!.Port}";
        HttpEndpoint = $"http://127.0.0.1:{http!.IPEndPoint!.Port}";

        if (Options.AppChannel is not null) await ConnectAppAsync(Options.AppChannel).ConfigureAwait(false);
        else if (Options.AppAddress is not null)
        {
            _ownsApp = true;
            await ConnectAppAsync(new HttpClient { BaseAddress = Options.AppAddress }).ConfigureAwait(false);
        }
    }

    /// <summary>A real <see cref="DaprClient"/> wired to this sidecar.</summary>
    public DaprClient CreateClient()
    {
        var builder = new DaprClientBuilder().UseGrpcEndpoint(GrpcEndpoint).UseHttpEndpoint(HttpEndpoint);
        if (Options.DaprApiToken is not null) builder.UseDaprApiToken(Options.DaprApiToken);
        return builder.Build();
    }

    /// <summary>
    /// Opens the app channel: reads <c>GET /dapr/subscribe</c> once (as daprd does at start-up), joins each topic's
    /// consumer group under this app id and starts delivering.
    /// </summary>
    public async Task ConnectAppAsync(HttpClient app, CancellationToken cancellationToken = default)
    {
        if (_app is not null) throw new InvalidOperationException($"Sidecar '{AppId}' already has an app channel.");
        _app = app;
        using var request = new HttpRequestMessage(HttpMethod.Get, Relative("/dapr/subscribe"));
        AddAppToken(request);
        using var response = await app.SendAsync(request, cancellationToken).ConfigureAwait(false);
        // An app with no subscription endpoint simply has no subscriptions.
        if (response.StatusCode == HttpStatusCode.NotFound) return;
        response.EnsureSuccessStatusCode();
        var declared = Subscription.ParseList(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));

        var honoured = new List<Subscription>();
        var skipped = new List<Subscription>();
        foreach (var sub in declared)
        {
            var broker = Backend.FindPubSub(sub.PubsubName, AppId);
            if (broker is null) { skipped.Add(sub); continue; }
            honoured.Add(sub);
            var group = broker.Join(sub.Topic, AppId);
            // A bulk subscription on Redis has one request in flight (see PubSubOptions.MaxMessagesPerBulk).
            var workers = sub.BulkEnabled ? 1 : Math.Max(1, Options.DeliveryConcurrency);
            for (var i = 0; i < workers; i++)
                _workers.Add(Task.Run(() => RunWorkerAsync(sub, broker, group, _stopping.Token)));
        }
        _subscriptions = honoured;
        SkippedSubscriptions = skipped;
    }

    /// <summary>
    /// Stops the sidecar abruptly: deliveries in flight are cancelled and their messages go back to the
    /// consumer group (another member with the same app id picks them up); the endpoints go away.
    /// </summary>
    public async Task KillAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        ReturnInFlight(_inFlight.Keys);
        // Workers end by cancellation, or by the app channel failing under them when the app went first.
        try { await Task.WhenAll(_workers).ConfigureAwait(false); } catch (Exception) when (_stopping.IsCancellationRequested) { }
        if (_host is not null) await _host.StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        if (_host is not null) await _host.DisposeAsync().ConfigureAwait(false);
        if (_ownsApp) _app?.Dispose();
        _stopping.Dispose();
    }

    // ---- delivery ----

    private async Task RunWorkerAsync(Subscription sub, PubSubBroker broker, ConsumerGroup group, CancellationToken ct)
    {
        var reader = group.Queue.Reader;
        // One bulk request holds at most the component's per-request limit (see PubSubOptions.MaxMessagesPerBulk).
        var bulkLimit = Math.Max(1, Math.Min(sub.MaxMessagesCount, broker.Options.MaxMessagesPerBulk));
        var inbound = Backend.Resiliency?.For(broker.Name, AppId)?.InboundRetry;
        while (!ct.IsCancellationRequested)
        {
            var batch = new List<PendingDelivery>();
            try
            {
                batch.Add(Track(await reader.ReadAsync(ct).ConfigureAwait(false), sub));
                if (sub.BulkEnabled)
                {
                    // Gather up to the limit, waiting at most maxAwaitDurationMs for the batch to fill.
                    using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    window.CancelAfter(sub.MaxAwaitDurationMs);
                    while (batch.Count < bulkLimit)
                    {
                        if (reader.TryRead(out var next)) { batch.Add(Track(next, sub)); continue; }
                        try { await reader.WaitToReadAsync(window.Token).ConfigureAwait(false); }
                        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { break; }
                    }
                }
                await DeliverWithPolicyAsync(sub, broker, batch, inbound, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                ReturnInFlight(batch);
                return;
            }
        }
    }

    /// <summary>
    /// Delivers a batch and redelivers what the app answered RETRY for, in place, under the inbound retry policy of
    /// the Resiliency spec: only the failed entries go again (dapr <c>pkg/runtime/subscription/bulkresiliency.go</c>,
    /// <c>applyBulkSubscribeResiliency</c>). When the policy gives up, or there is none, a failed message goes to the
    /// dead-letter topic if the subscription names one (<c>bulksubscription.go</c>, <c>sendBulkToDLQIfConfigured</c>);
    /// otherwise Redis streams (Dapr 1.17+) acknowledges it anyway and it is lost (counted as a drop).
    /// </summary>
    private async Task DeliverWithPolicyAsync(Subscription sub, PubSubBroker broker, List<PendingDelivery> batch, RetryPolicy? inbound, CancellationToken ct)
    {
        var pending = batch;
        for (var retries = 0; ; retries++)
        {
            var outcomes = sub.BulkEnabled
                ? await DeliverBulkAsync(sub, pending, ct).ConfigureAwait(false)
                : [await DeliverOneAsync(sub, pending[0], ct).ConfigureAwait(false)];
            var again = new List<PendingDelivery>();
            for (var i = 0; i < pending.Count; i++)
            {
                pending[i].Attempts++;
                if (outcomes[i] == Outcome.Retry && inbound is not null && inbound.AllowsRetry(retries)) again.Add(pending[i]);
                // Kill may have taken the delivery back already; then it is no longer ours to settle.
                else if (_inFlight.TryRemove(pending[i], out _)) Settle(sub, broker, pending[i], outcomes[i]);
            }
            if (again.Count == 0) return;
            foreach (var _ in again) Count(c => c.Retry());
            await Task.Delay(inbound!.Delay(retries + 1), ct).ConfigureAwait(false);
            pending = again;
        }
    }

    private PendingDelivery Track(PendingDelivery d, Subscription sub)
    {
        _inFlight[d] = sub;
        return d;
    }

    /// <summary>Messages this sidecar read but did not settle stay pending in the consumer group until another
    /// consumer reclaims them after <see cref="PubSubOptions.ProcessingTimeout"/> (components-contrib
    /// <c>pubsub/redis/redis.go</c>, <c>reclaimPendingMessages</c>: XPENDING idle longer than processingTimeout, then XCLAIM).</summary>
    private void ReturnInFlight(IEnumerable<PendingDelivery> deliveries)
    {
        foreach (var d in deliveries.ToList())
        {
            if (!_inFlight.TryRemove(d, out _)) continue;
            var timeout = d.Group.ProcessingTimeout;
            if (timeout <= TimeSpan.Zero) PubSubBroker.Requeue(d);
            else _ = Task.Delay(timeout).ContinueWith(_ => PubSubBroker.Requeue(d), TaskScheduler.Default);
        }
    }

    private async Task<Outcome> DeliverOneAsync(Subscription sub, PendingDelivery d, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Relative(sub.Route))
        {
            Content = Json(d.Message.CloudEvent, CloudEvents.ContentType),
        };
        AddAppToken(request);
        if (d.Message.CloudEvent["traceparent"]?.ToString() is { Length: > 0 } tp) request.Headers.TryAddWithoutValidation("traceparent", tp);
        Count(c => c.Request());
        Count(c => c.Delivered(1));
        try
        {
            using var response = await _app!.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound) return Outcome.Drop;
            if (!response.IsSuccessStatusCode) return Outcome.Retry;
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            return ParseSingleAnswer(body);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            return Outcome.Retry; // transport failure or the app threw: daprd retries
        }
    }

    // 2xx with no body, a non-JSON body or {"status":"SUCCESS"} acks; RETRY and unknown statuses retry; DROP drops.
    private static Outcome ParseSingleAnswer(string body)
    {
        if (string.IsNullOrWhiteSpace(body)) return Outcome.Success;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("status", out var status)) return Outcome.Success;
            return status.ValueKind == JsonValueKind.String ? ParseStatus(status.GetString()) : Outcome.Retry;
        }
        catch (JsonException)
        {
            return Outcome.Success;
        }
    }

    private static Outcome ParseStatus(string? status) => status?.ToUpperInvariant() switch
    {
        "" or null or "SUCCESS" => Outcome.Success,
        "DROP" => Outcome.Drop,
        _ => Outcome.Retry,
    };

    private async Task<Outcome[]> DeliverBulkAsync(Subscription sub, List<PendingDelivery> batch, CancellationToken ct)
    {
        var entryIds = batch.Select(_ => Guid.NewGuid().ToString()).ToArray();
        // The bulk envelope is plain JSON, not a CloudEvent: each entry carries its CloudEvent as a JSON object.
        var envelope = new JsonObject
        {
            ["entries"] = new JsonArray([.. batch.Select((d, i) => (JsonNode)new JsonObject
            {
                ["entryId"] = entryIds[i],
                ["event"] = d.Message.CloudEvent.DeepClone(),
                ["contentType"] = CloudEvents.ContentType,
                ["metadata"] = null,
            })]),
            ["id"] = Guid.NewGuid().ToString(),
            ["metadata"] = new JsonObject { ["pubsubName"] = sub.PubsubName },
            ["pubsubname"] = sub.PubsubName,
            ["topic"] = sub.Topic,
            ["type"] = CloudEvents.BulkEventType,
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, Relative(sub.Route)) { Content = Json(envelope, "application/json") };
        AddAppToken(request);
        Count(c => c.Request());
        Count(c => c.Delivered(batch.Count));
        try
        {
            using var response = await _app!.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound) return [.. batch.Select(_ => Outcome.Drop)];
            if (!response.IsSuccessStatusCode) return [.. batch.Select(_ => Outcome.Retry)];
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            return ParseBulkAnswer(body, entryIds);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            return [.. batch.Select(_ => Outcome.Retry)];
        }
    }

    // {"statuses":[{"entryId":"…","status":"SUCCESS|RETRY|DROP"}]}. An entry without a status is retried. A body that
    // does not parse into that shape (daprd's Go types: status must be a string, so an enum serialized as a number
    // fails) retries every entry.
    private static Outcome[] ParseBulkAnswer(string body, string[] entryIds)
    {
        var outcomes = entryIds.Select(_ => Outcome.Retry).ToArray();
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (!doc.RootElement.TryGetProperty("statuses", out var statuses) || statuses.ValueKind != JsonValueKind.Array) return outcomes;
            var byId = new Dictionary<string, Outcome>();
            foreach (var s in statuses.EnumerateArray())
            {
                if (!s.TryGetProperty("entryId", out var id) || id.ValueKind != JsonValueKind.String) return outcomes;
                if (!s.TryGetProperty("status", out var st) || st.ValueKind != JsonValueKind.String) return [.. entryIds.Select(_ => Outcome.Retry)];
                byId[id.GetString()!] = ParseStatus(st.GetString());
            }
            for (var i = 0; i < entryIds.Length; i++)
                if (byId.TryGetValue(entryIds[i], out var o)) outcomes[i] = o;
            return outcomes;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return outcomes;
        }
    }

    private void Settle(Subscription sub, PubSubBroker broker, PendingDelivery d, Outcome outcome)
    {
        if (outcome == Outcome.Success)
        {
            Count(c => c.Ack());
        }
        else if (sub.DeadLetterTopic is { } deadLetter)
        {
            // DROP, 404, or retries exhausted: to the dead-letter topic the subscription names.
            broker.Publish(d.Message with { Topic = deadLetter, CloudEvent = (JsonObject)d.Message.CloudEvent.DeepClone() });
            Count(c => c.DeadLetter());
        }
        else
        {
            Count(c => c.Drop());
        }
        Backend.Outstanding(-1);
    }

    private void Count(Action<DeliveryCounters> update)
    {
        update(Counters);
        update(Backend.Counters);
    }

    private void AddAppToken(HttpRequestMessage request)
    {
        if (Options.AppApiToken is not null) request.Headers.TryAddWithoutValidation("dapr-api-token", Options.AppApiToken);
    }

    private static Uri Relative(string path) => new(path.TrimStart('/'), UriKind.Relative);

    private static ByteArrayContent Json(JsonNode node, string contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(node.ToJsonString()));
        // Exact media type, no charset parameter: that is what daprd sends.
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return content;
    }
}
