using Telemetry.Hosting.Deployment;
using Telemetry.Dapr;
using Telemetry.Gateway;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;
using Telemetry.Hosting.Status;
using Telemetry.Imports;

// The API gateway as a Dapr app: reads the windows the collector writes, through the Dapr state store.
return await HostRunner.RunAsync(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddTelemetryLogging();
    builder.AddTelemetryObservability(DeploymentDefaults.GatewayAppId);
    var ports = builder.Configuration.ReadSettings<GatewayPorts>();
    builder.ListenOn(ports.Port, ports.MetricsPort);
    builder.Services.AddDaprState().AddTelemetryGateway().AddInstanceHeartbeat(PipelineRole.Gateway);
    builder.AddGatewaySecurity();
    // CSV imports: Dapr Workflows hosted here, publishing to the collector through pub/sub.
    builder.Services.AddDaprPublisher().AddTelemetryImports().AddImportWorkflows();

    var app = builder.Build();
    app.UseTelemetryGateway();
    app.MapTelemetryImports();
    app.MapHealth(ports.Port);
    app.MapMetricsPort(ports.MetricsPort);
    return app;
});

/// <summary>Entry point marker for tests (WebApplicationFactory).</summary>
public partial class GatewayProgram;
