using Telemetry.Gateway;
using Telemetry.Hosting;
using Telemetry.Hosting.Observability;
using Telemetry.Imports;
using Telemetry.Embedded;

return await HostRunner.RunAsync(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddTelemetryLogging();
    builder.AddTelemetryObservability("telemetry-embedded");
    var settings = builder.Configuration.ReadSettings<EmbeddedOptions>();
    builder.ListenOn(settings.Port, settings.MetricsPort);
    builder.Services.AddEmbeddedPipeline();
    builder.AddGatewaySecurity();

    var app = builder.Build();
    app.UseTelemetryGateway();
    app.MapTelemetryImports();
    app.MapHealth();
    app.MapMetricsPort(settings.MetricsPort);
    return app;
});

/// <summary>Entry point marker for tests (WebApplicationFactory).</summary>
public partial class Program;
