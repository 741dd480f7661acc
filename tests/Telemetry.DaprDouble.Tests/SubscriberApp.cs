using System.Collections.Concurrent;
using Dapr;
using Dapr.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;

namespace Telemetry.DaprDouble.Tests;

public sealed record Order(int Id, string Gpu);

/// <summary>
/// A minimal ASP.NET Core app on TestServer subscribing with Dapr.AspNetCore, the way the collector does.
/// The handlers decide each answer through <see cref="Answer"/>.
/// </summary>
public sealed class SubscriberApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SubscriberApp(WebApplication app) => _app = app;

    public ConcurrentQueue<Order> Received { get; } = new();
    /// <summary>When each entry of <see cref="Received"/> arrived.</summary>
    public ConcurrentQueue<DateTime> ReceivedAt { get; } = new();
    public ConcurrentQueue<int> BulkSizes { get; } = new();
    public ConcurrentQueue<string?> TokensSeen { get; } = new();

    /// <summary>Per order: what to answer ("SUCCESS", "RETRY", "DROP", or an HTTP status like "500"/"404").</summary>
    public Func<Order, string> Answer { get; set; } = _ => "SUCCESS";

    /// <summary>Awaited before answering (to hold a delivery in flight).</summary>
    public Func<Order, CancellationToken, Task> Gate { get; set; } = (_, _) => Task.CompletedTask;

    public static async Task<SubscriberApp> StartAsync(Action<WebApplication, SubscriberApp> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        var app = builder.Build();
        var subscriber = new SubscriberApp(app);
        app.UseCloudEvents();
        app.MapSubscribeHandler();
        map(app, subscriber);
        await app.StartAsync();
        return subscriber;
    }

    public HttpClient CreateClient() => _app.GetTestClient();

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    /// <summary>Single delivery: the CloudEvent middleware unwraps data into the Order.</summary>
    public RouteHandlerBuilder MapSingle(WebApplication app, string route) =>
        app.MapPost(route, async (Order order, HttpRequest request) =>
        {
            TokensSeen.Enqueue(request.Headers["dapr-api-token"].FirstOrDefault());
            Received.Enqueue(order);
            ReceivedAt.Enqueue(DateTime.UtcNow);
            await Gate(order, request.HttpContext.RequestAborted);
            var answer = Answer(order);
            return int.TryParse(answer, out var code) ? Results.StatusCode(code) : Results.Json(new { status = answer });
        });

    /// <summary>Bulk delivery: plain JSON envelope, each entry's event a CloudEvent.</summary>
    public RouteHandlerBuilder MapBulk(WebApplication app, string route) =>
        app.MapPost(route, (BulkSubscribeMessage<BulkMessageModel<Order>> message) =>
        {
            BulkSizes.Enqueue(message.Entries.Count);
            var statuses = new List<BulkSubscribeAppResponseEntry>();
            foreach (var entry in message.Entries)
            {
                var order = entry.Event.Data;
                Received.Enqueue(order);
                ReceivedAt.Enqueue(DateTime.UtcNow);
                statuses.Add(new BulkSubscribeAppResponseEntry(entry.EntryId, Answer(order) switch
                {
                    "RETRY" => BulkSubscribeAppResponseStatus.RETRY,
                    "DROP" => BulkSubscribeAppResponseStatus.DROP,
                    _ => BulkSubscribeAppResponseStatus.SUCCESS,
                }));
            }
            return Results.Json(new BulkSubscribeAppResponse(statuses));
        });

    public static TopicOptions Topic(string name, string? deadLetter = null) =>
        new() { PubsubName = "pubsub", Name = name, DeadLetterTopic = deadLetter! };
}
