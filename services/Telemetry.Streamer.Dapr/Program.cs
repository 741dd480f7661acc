using Telemetry.Hosting.Deployment;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;
using Telemetry.Hosting.Status;
using Telemetry.Streamer;

// The streamer as a Dapr app: publishes through its sidecar, shares the file with other replicas.
return await HostRunner.RunAsync(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddTelemetryLogging();
    builder.AddTelemetryObservability(DeploymentDefaults.StreamerAppId);
    var settings = builder.Configuration.ReadSettings<StreamerHostOptions>();
    builder.ListenOn(settings.HealthPort, settings.MetricsPort);
    builder.Services.AddDaprStreaming().AddTelemetryStreamer().AddInstanceHeartbeat(PipelineRole.Streamer);

    var app = builder.Build();
    app.MapHealth(settings.HealthPort);
    app.MapMetricsPort(settings.MetricsPort);
    return app;
});

/// <summary>Entry point marker for tests (WebApplicationFactory).</summary>
public partial class StreamerProgram;
