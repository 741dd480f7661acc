using Telemetry.Collector;
using Telemetry.Hosting.Deployment;
using Telemetry.Dapr;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;
using Telemetry.Hosting.Status;

// The collector as a Dapr app: the sidecar delivers to BROKER_PORT, windows go to the Dapr state store.
return await HostRunner.RunAsync(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddTelemetryLogging();
    builder.AddTelemetryObservability(DeploymentDefaults.CollectorAppId);
    var ports = builder.Configuration.ReadSettings<CollectorPorts>();
    builder.ListenOn(ports.BrokerPort, ports.HealthPort, ports.MetricsPort);
    builder.Services.AddDaprState().AddTelemetryCollector().AddInstanceHeartbeat(PipelineRole.Collector);
    builder.Services.AddReadinessCheck<StoreHealthCheck>("state-store");
    builder.Services.AddDeliveryProtection();

    var app = builder.Build();
    app.UseCloudEvents();
    app.MapTelemetrySubscription(ports.BrokerPort);
    app.MapHealth(ports.HealthPort);
    app.MapMetricsPort(ports.MetricsPort);
    return app;
});

/// <summary>Entry point marker for tests (WebApplicationFactory).</summary>
public partial class CollectorProgram;
