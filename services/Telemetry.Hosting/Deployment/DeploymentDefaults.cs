namespace Telemetry.Hosting.Deployment;

/// <summary>
/// The defaults a deployment repeats: ports, Dapr app ids and component names, container paths and the pipeline
/// settings the manifests spell out. Options classes, the embedded host and the manifest tests (compose, Helm,
/// dapr.yaml, Dockerfiles) all read these, so a change here that the deployment files do not follow fails a test.
/// </summary>
public static class DeploymentDefaults
{
    // Ports of the original deployment.
    public const int GatewayPort = 8081;          // PORT: REST API (gateway and embedded host)
    public const int GatewayMetricsPort = 9092;   // METRICS_PORT of the gateway
    public const int CollectorHealthPort = 8080;  // HEALTH_PORT of the collector
    public const int CollectorMetricsPort = 9091; // METRICS_PORT of the collector (and of the embedded host)
    public const int CollectorAppPort = 9000;     // BROKER_PORT: where the collector's sidecar delivers messages
    public const int StreamerHealthPort = 8082;   // HEALTH_PORT of the streamer
    public const int StreamerMetricsPort = 9093;  // METRICS_PORT of the streamer

    // Dapr app ids and component names.
    public const string StreamerAppId = "telemetry-streamer";
    public const string CollectorAppId = "telemetry-collector";
    public const string GatewayAppId = "api-gateway";
    public const string PubSubName = "telemetry-pubsub";
    public const string Topic = "telemetry";
    public const string DeadLetterTopic = "telemetry-deadletter";
    public const string StateStoreName = "telemetry-state";

    // Pipeline behaviour.
    public const int MaxEntries = Telemetry.Core.Windows.WindowOptions.DefaultMaxEntries;
    public const double StreamerRate = 10;
    public const int StreamerWorkers = 2;
    public const int CollectorWorkers = 4;
    // Samples per published message. The collector's cost is per GPU per append, and with Redis streams one delivery
    // holds at most `concurrency` (10) messages, so bigger messages mean more samples per GPU per append: at RATE=0
    // 2,500 (a whole pass of the reference file per message) cut the collector's CPU per sample from 3.6 to 1.6 us
    // against 500 (figure 4, docs/performance.md, ninth pass). ~390 kB of JSON, well under daprd's 4 MB body limit.
    public const int BatchSize = 2500;
    public const string ContainerCsvFile = "/data/telemetry.csv";
    public const string ContainerDataDir = "/data";
}
