using System.Text.Json.Nodes;
using Dapr;
using Dapr.AspNetCore;
using Dapr.Client;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Telemetry.DaprDouble;

namespace Telemetry.DaprDouble.Tests;

public sealed class PubSubTests : IAsyncLifetime
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(10);
    private readonly DaprBackend _backend = new();
    private readonly List<SubscriberApp> _apps = [];
    private DaprSidecar _streamer = null!;
    private DaprClient _publisher = null!;

    public async Task InitializeAsync()
    {
        _backend.AddPubSub(new PubSubOptions { Name = "pubsub", ProcessingTimeout = TimeSpan.FromMilliseconds(300) });
        // An inbound retry policy as components/resiliency.yaml declares one, with short waits for the test.
        _backend.Resiliency = ResiliencySpec.ForComponent("pubsub", new ComponentPolicies(null, null, RetryPolicy.Constant(TimeSpan.FromMilliseconds(5), maxRetries: 2)));
        _streamer = await _backend.StartSidecarAsync("streamer");
        _publisher = _streamer.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _publisher.Dispose();
        await _backend.DisposeAsync();
        foreach (var app in _apps) await app.DisposeAsync();
    }

    private async Task<(SubscriberApp App, DaprSidecar Sidecar)> Subscriber(string appId, Action<WebApplication, SubscriberApp> map,
        Action<SidecarOptions>? options = null)
    {
        var app = await SubscriberApp.StartAsync(map);
        _apps.Add(app);
        var sidecar = await _backend.StartSidecarAsync(appId, o => { o.AppChannel = app.CreateClient(); options?.Invoke(o); });
        return (app, sidecar);
    }

    private Task PublishOrders(string topic, int count, int first = 0) =>
        Task.WhenAll(Enumerable.Range(first, count).Select(i => _publisher.PublishEventAsync("pubsub", topic, new Order(i, $"GPU-{i}"))));

    [Fact]
    public async Task Publish_and_bulk_publish_are_counted_and_stored_as_cloudevents()
    {
        await _publisher.PublishEventAsync("pubsub", "orders", new Order(1, "GPU-1"));
        var result = await _publisher.BulkPublishEventAsync("pubsub", "orders", [new Order(2, "a"), new Order(3, "b"), new Order(4, "c")]);
        Assert.Empty(result.FailedEntries);

        Assert.Equal(1, _streamer.Calls["PublishEvent"]);
        Assert.Equal(1, _streamer.Calls["BulkPublishEvent"]);

        var messages = _backend.PubSub("pubsub").Messages("orders");
        Assert.Equal(4, messages.Count); // bulk entries are separate messages
        var ce = messages[0].CloudEvent;
        Assert.Equal("streamer", (string?)ce["source"]);
        Assert.Equal("com.dapr.event.sent", (string?)ce["type"]);
        Assert.Equal("1.0", (string?)ce["specversion"]);
        Assert.Equal("application/json", (string?)ce["datacontenttype"]);
        Assert.Equal("orders", (string?)ce["topic"]);
        Assert.Equal("pubsub", (string?)ce["pubsubname"]);
        Assert.StartsWith("00-", (string?)ce["traceparent"]);
        Assert.NotNull(ce["time"]);
        Assert.Equal(1, (int?)ce["data"]!["id"]);
    }

    [Fact]
    public async Task Dapr_Client_1_19_bulk_publishes_through_the_stable_method()
    {
        await _publisher.BulkPublishEventAsync("pubsub", "t", [1]);
        Assert.Equal(1, _streamer.Calls["BulkPublishEvent"]);
        Assert.Equal(0, _streamer.Calls["BulkPublishEventAlpha1"]);
    }

    [Fact]
    public async Task Injected_publish_failures_surface_as_Unavailable_then_clear()
    {
        _backend.Faults.FailNextPublishes(2);
        for (var i = 0; i < 2; i++)
        {
            var ex = await Assert.ThrowsAsync<DaprException>(() => _publisher.PublishEventAsync("pubsub", "t", i));
            Assert.Equal(StatusCode.Unavailable, Assert.IsType<RpcException>(ex.InnerException).StatusCode);
        }
        await _publisher.PublishEventAsync("pubsub", "t", 3);
        Assert.Single(_backend.PubSub("pubsub").Messages("t"));
    }

    [Fact]
    public async Task Single_subscription_receives_cloudevents_unwrapped_by_UseCloudEvents()
    {
        var (app, sidecar) = await Subscriber("collector", (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders"),
            o => o.AppApiToken = "app-secret");
        Assert.Equal("/orders", Assert.Single(sidecar.Subscriptions).Route);

        await PublishOrders("orders", 5);
        await _backend.WaitForIdleAsync(Idle);

        Assert.Equal([0, 1, 2, 3, 4], app.Received.Select(o => o.Id).Order());
        Assert.Equal(5, sidecar.Counters.Acks);
        Assert.Equal(5, sidecar.Counters.Requests);
        Assert.All(app.TokensSeen, t => Assert.Equal("app-secret", t));
    }

    [Fact]
    public async Task Messages_published_before_the_subscriber_starts_are_delivered()
    {
        await PublishOrders("orders", 3);
        var (app, _) = await Subscriber("collector", (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders"));
        await _backend.WaitForIdleAsync(Idle);
        Assert.Equal(3, app.Received.Count);
    }

    [Fact]
    public async Task Bulk_subscription_gets_batches_of_up_to_maxMessagesCount()
    {
        var (app, sidecar) = await Subscriber("collector", (w, a) => a.MapBulk(w, "/readings")
            .WithTopic("pubsub", "readings")
            .WithBulkSubscribe(new BulkSubscribeTopicOptions { TopicName = "readings", MaxMessagesCount = 10, MaxAwaitDurationMs = 200 }));
        var sub = Assert.Single(sidecar.Subscriptions);
        Assert.True(sub.BulkEnabled);
        Assert.Equal(10, sub.MaxMessagesCount);

        await PublishOrders("readings", 25);
        await _backend.WaitForIdleAsync(Idle);

        Assert.Equal(25, app.Received.Select(o => o.Id).Distinct().Count());
        Assert.All(app.BulkSizes, n => Assert.InRange(n, 1, 10));
        Assert.True(sidecar.Counters.Requests >= 3 && sidecar.Counters.Requests < 25, sidecar.Counters.ToString());
        Assert.Equal(25, sidecar.Counters.Acks);
    }

    [Fact]
    public async Task Retry_answer_redelivers_until_success()
    {
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var (app, sidecar) = await Subscriber("collector", (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders"));
        app.Answer = o => seen.AddOrUpdate(o.Id, 1, (_, n) => n + 1) == 1 ? "RETRY" : "SUCCESS";

        await PublishOrders("orders", 1);
        await _backend.WaitForIdleAsync(Idle);

        Assert.Equal(2, app.Received.Count);
        Assert.Equal(1, sidecar.Counters.Retries);
        Assert.Equal(1, sidecar.Counters.Acks);
    }

    [Fact]
    public async Task Bulk_retry_entries_come_back_alone()
    {
        var tries = 0;
        var (app, sidecar) = await Subscriber("collector", (w, a) => a.MapBulk(w, "/readings")
            .WithTopic("pubsub", "readings")
            .WithBulkSubscribe(new BulkSubscribeTopicOptions { TopicName = "readings", MaxMessagesCount = 10, MaxAwaitDurationMs = 100 }));
        app.Answer = o => o.Id == 1 && Interlocked.Increment(ref tries) == 1 ? "RETRY" : "SUCCESS";
        await PublishOrders("readings", 3);
        await _backend.WaitForIdleAsync(Idle);
        Assert.Equal(4, app.Received.Count);
        Assert.Equal(2, app.Received.Count(o => o.Id == 1));
        Assert.Equal(3, sidecar.Counters.Acks);
        Assert.Equal(1, sidecar.Counters.Retries);
    }

    [Fact]
    public async Task Drop_goes_to_the_dead_letter_topic_and_its_subscriber()
    {
        var (app, sidecar) = await Subscriber("collector", (w, a) =>
        {
            a.MapSingle(w, "/orders").WithTopic(SubscriberApp.Topic("orders", deadLetter: "orders-dead"));
            a.MapSingle(w, "/dead").WithTopic("pubsub", "orders-dead");
        });
        app.Answer = o => o.Gpu == "poison" ? "DROP" : "SUCCESS";
        Assert.Equal("orders-dead", sidecar.Subscriptions.Single(s => s.Topic == "orders").DeadLetterTopic);

        await _publisher.PublishEventAsync("pubsub", "orders", new Order(1, "poison"));
        await _publisher.PublishEventAsync("pubsub", "orders", new Order(2, "fine"));
        await _backend.WaitForIdleAsync(Idle);

        var dead = Assert.Single(_backend.PubSub("pubsub").Messages("orders-dead"));
        Assert.Equal(1, (int?)dead.Data!["id"]);
        Assert.Equal(1, sidecar.Counters.DeadLettered);
        // The dead letter was delivered to its own subscription (and DROPped again there: no dead letter of its own).
        Assert.Equal(1, sidecar.Counters.Drops);
    }

    [Fact]
    public async Task Failing_app_exhausts_retries_then_drops_and_404_drops_at_once()
    {
        var (app, sidecar) = await Subscriber("collector", (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders"));
        app.Answer = o => o.Id == 0 ? "500" : "404";
        await PublishOrders("orders", 2);
        await _backend.WaitForIdleAsync(Idle);

        Assert.Equal(3, app.Received.Count(o => o.Id == 0));
        Assert.Equal(1, app.Received.Count(o => o.Id == 1));
        Assert.Equal(2, sidecar.Counters.Retries);
        Assert.Equal(2, sidecar.Counters.Drops);
        Assert.Equal(0, _backend.OutstandingDeliveries);
    }

    [Fact]
    public async Task Sidecars_with_the_same_app_id_compete_and_other_app_ids_each_get_everything()
    {
        Action<WebApplication, SubscriberApp> map = (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders");
        var (c1, _) = await Subscriber("collector", map);
        var (c2, _) = await Subscriber("collector", map);
        var (audit, _) = await Subscriber("auditor", map);
        c1.Gate = c2.Gate = (_, ct) => Task.Delay(5, ct); // keep each busy so the other gets a share

        await PublishOrders("orders", 40);
        await _backend.WaitForIdleAsync(Idle);

        Assert.Equal(40, c1.Received.Count + c2.Received.Count);
        Assert.Empty(c1.Received.Select(o => o.Id).Intersect(c2.Received.Select(o => o.Id)));
        Assert.NotEmpty(c1.Received);
        Assert.NotEmpty(c2.Received);
        Assert.Equal(40, audit.Received.Count);
    }

    [Fact]
    public async Task Killing_a_sidecar_mid_delivery_hands_its_message_to_another_member()
    {
        var held = new TaskCompletionSource();
        Action<WebApplication, SubscriberApp> map = (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders");
        var (a1, s1) = await Subscriber("collector", map);
        a1.Gate = (_, ct) => { held.TrySetResult(); return Task.Delay(Timeout.Infinite, ct); };

        await PublishOrders("orders", 1);
        await held.Task.WaitAsync(Idle);
        var (a2, _) = await Subscriber("collector", map);
        var killed = DateTime.UtcNow;
        await s1.KillAsync();
        await _backend.WaitForIdleAsync(Idle);

        Assert.Single(a1.Received);
        Assert.Equal(0, Assert.Single(a2.Received).Id);
        Assert.False(s1.IsRunning);
        // It stayed pending until the processing timeout, then another consumer claimed it.
        Assert.True(a2.ReceivedAt.First() - killed >= TimeSpan.FromMilliseconds(250), $"redelivered after {a2.ReceivedAt.First() - killed}");
    }

    [Fact]
    public async Task Duplicate_fault_delivers_every_message_more_than_once()
    {
        _backend.Faults.DuplicateDeliveries = 1;
        var (app, sidecar) = await Subscriber("collector", (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders"));
        await PublishOrders("orders", 3);
        await _backend.WaitForIdleAsync(Idle);
        Assert.Equal(6, app.Received.Count);
        Assert.All(app.Received.GroupBy(o => o.Id), g => Assert.Equal(2, g.Count()));
        Assert.Equal(6, sidecar.Counters.Acks);
    }

    [Fact]
    public async Task Subscriptions_to_an_out_of_scope_pubsub_are_skipped()
    {
        _backend.AddPubSub("private", "someone-else");
        var (_, sidecar) = await Subscriber("collector", (w, a) => a.MapSingle(w, "/x").WithTopic("private", "x"));
        Assert.Empty(sidecar.Subscriptions);
        Assert.Single(sidecar.SkippedSubscriptions);
    }

    [Fact]
    public async Task Retry_is_redelivered_in_place_on_the_same_sidecar_never_by_another_replica()
    {
        Action<WebApplication, SubscriberApp> map = (w, a) => a.MapSingle(w, "/orders").WithTopic(SubscriberApp.Topic("orders", deadLetter: "orders-dead"));
        var (failing, s1) = await Subscriber("collector", map);
        failing.Answer = _ => "RETRY";
        await PublishOrders("orders", 1);
        await _backend.WaitForIdleAsync(Idle);
        var (other, _) = await Subscriber("collector", map);
        await _backend.WaitForIdleAsync(Idle);

        Assert.Equal(3, failing.Received.Count); // first attempt + maxRetries 2, all on this sidecar
        Assert.Empty(other.Received);
        Assert.Equal(1, s1.Counters.DeadLettered);
        Assert.Single(_backend.PubSub("pubsub").Messages("orders-dead"));
    }

    [Fact]
    public async Task Without_an_inbound_policy_a_retry_answer_is_acknowledged_and_the_message_lost()
    {
        _backend.Resiliency = null; // Redis streams since Dapr 1.17: a failed delivery is acked unless resiliency retries it
        var (app, sidecar) = await Subscriber("collector", (w, a) => a.MapSingle(w, "/orders").WithTopic("pubsub", "orders"));
        app.Answer = _ => "RETRY";
        await PublishOrders("orders", 1);
        await _backend.WaitForIdleAsync(Idle);
        Assert.Single(app.Received);
        Assert.Equal(1, sidecar.Counters.Drops);
        Assert.Equal(0, sidecar.Counters.Retries);
    }
}
