using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Telemetry.DaprDouble;

/// <summary>One published message: the CloudEvent daprd built (or was given) for it.</summary>
public sealed record BrokerMessage(string Id, string PubsubName, string Topic, JsonObject CloudEvent, string PublisherAppId)
{
    /// <summary>The CloudEvent's <c>data</c> member, or null.</summary>
    public JsonNode? Data => CloudEvent["data"];
}

/// <summary>A copy of a message waiting for (or out on) delivery to one consumer group.</summary>
internal sealed class PendingDelivery(BrokerMessage message, ConsumerGroup group)
{
    public BrokerMessage Message { get; } = message;
    public ConsumerGroup Group { get; } = group;
    public int Attempts { get; set; }
}

/// <summary>
/// All sidecars with one app id subscribed to one topic: they compete, so each message goes to one of them.
/// </summary>
internal sealed class ConsumerGroup(string topic, string appId, TimeSpan processingTimeout)
{
    public TimeSpan ProcessingTimeout { get; } = processingTimeout;
    public string Topic { get; } = topic;
    public string AppId { get; } = appId;
    public Channel<PendingDelivery> Queue { get; } = Channel.CreateUnbounded<PendingDelivery>();
}

/// <summary>
/// An in-memory pub/sub component. Topics keep every message; a consumer group created later starts from the
/// beginning of the topic (like Redis streams' consumer groups created at id 0), so start-up order does not lose messages.
/// </summary>
public sealed class PubSubBroker
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<BrokerMessage>> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Topic, string AppId), ConsumerGroup> _groups = [];
    private readonly DaprBackend _backend;

    internal PubSubBroker(PubSubOptions options, DaprBackend backend)
    {
        Options = options;
        _backend = backend;
    }

    public PubSubOptions Options { get; }
    public string Name => Options.Name;

    /// <summary>Every message ever published to <paramref name="topic"/>, dead letters included, in order.</summary>
    public IReadOnlyList<BrokerMessage> Messages(string topic)
    {
        lock (_gate) return _topics.TryGetValue(topic, out var log) ? [.. log] : [];
    }

    public IReadOnlyCollection<string> Topics
    {
        get { lock (_gate) return [.. _topics.Keys]; }
    }

    internal void Publish(BrokerMessage message)
    {
        lock (_gate)
        {
            if (Options.KeepMessages) Log(message.Topic).Add(message);
            foreach (var group in _groups.Values.Where(g => g.Topic == message.Topic))
                Enqueue(group, message);
        }
    }

    internal ConsumerGroup Join(string topic, string appId)
    {
        lock (_gate)
        {
            if (_groups.TryGetValue((topic, appId), out var group)) return group;
            group = new ConsumerGroup(topic, appId, Options.ProcessingTimeout);
            _groups[(topic, appId)] = group;
            foreach (var message in Log(topic)) Enqueue(group, message);
            return group;
        }
    }

    private List<BrokerMessage> Log(string topic) =>
        _topics.TryGetValue(topic, out var log) ? log : _topics[topic] = [];

    private void Enqueue(ConsumerGroup group, BrokerMessage message)
    {
        var copies = 1 + Math.Max(0, _backend.Faults.DuplicateDeliveries);
        for (var i = 0; i < copies; i++)
        {
            _backend.Outstanding(+1);
            group.Queue.Writer.TryWrite(new PendingDelivery(message, group));
        }
    }

    /// <summary>Puts a delivery back for any member of its group (a member went away without settling it).</summary>
    internal static void Requeue(PendingDelivery delivery) => delivery.Group.Queue.Writer.TryWrite(delivery);
}
