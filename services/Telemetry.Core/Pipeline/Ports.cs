using Telemetry.Core.Model;

namespace Telemetry.Core.Pipeline;

/// <summary>Where the streamer sends batches: the in-process queue (embedded) or Dapr pub/sub.
/// A completed call means the batch was accepted; it throws when it was not.</summary>
public interface IBatchPublisher
{
    Task PublishAsync(TelemetryBatch batch, CancellationToken cancellationToken);
}

/// <summary>Which GPUs this streamer replica streams. One replica streams all; several split the GPUs.</summary>
public interface IWorkShare
{
    bool Owns(string gpuUuid);
}

public sealed class WholeWorkShare : IWorkShare
{
    public static readonly WholeWorkShare Instance = new();
    public bool Owns(string gpuUuid) => true;
}

/// <summary>Where the collector sends what it consumed: validates and stores.</summary>
public interface IBatchSink
{
    Task<Windows.AppendResult> IngestAsync(TelemetryBatch batch, CancellationToken cancellationToken);
}
