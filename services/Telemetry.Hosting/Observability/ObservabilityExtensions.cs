using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Telemetry.Hosting.Observability;

public static class ObservabilityExtensions
{
    /// <summary>The standard OpenTelemetry variables the services read (the SDK reads the rest of OTEL_* itself).</summary>
    public const string EndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ProtocolSetting = "OTEL_EXPORTER_OTLP_PROTOCOL";
    public const string ServiceNameSetting = "OTEL_SERVICE_NAME";

    /// <summary>
    /// Runtime meters on <c>/metrics</c> (<see cref="RuntimeMeters"/>), and OpenTelemetry tracing exported over OTLP
    /// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. Without it no tracer is registered at all: nothing listens to
    /// the pipeline's spans, so they are never created. <paramref name="serviceName"/> is the default
    /// <c>service.name</c>; <c>OTEL_SERVICE_NAME</c> overrides it.
    /// </summary>
    public static IHostApplicationBuilder AddTelemetryObservability(this IHostApplicationBuilder builder, string serviceName)
    {
        RuntimeMeters.Publish();
        var endpoint = builder.Configuration[EndpointSetting];
        if (string.IsNullOrWhiteSpace(endpoint)) return builder;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ConfigurationException($"{EndpointSetting} '{endpoint}' is not an absolute http(s) URL, e.g. http://jaeger:4317.");
        }
        var protocol = builder.Configuration[ProtocolSetting];
        if (!string.IsNullOrEmpty(protocol) && protocol is not ("grpc" or "http/protobuf"))
        {
            throw new ConfigurationException($"{ProtocolSetting} '{protocol}' is not 'grpc' or 'http/protobuf'.");
        }
        var namedByUser = !string.IsNullOrWhiteSpace(builder.Configuration[ServiceNameSetting]);

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // The SDK's own detector reads OTEL_SERVICE_NAME; a name given here would override it.
                if (!namedByUser) resource.AddService(serviceName);
            })
            .WithTracing(tracing => tracing
                .AddSource(PipelineTracing.SourceName)
                // Health probes and scrapes arrive every few seconds and say nothing about the pipeline.
                .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsHousekeeping(context.Request.Path))
                // HTTP and gRPC calls (to the sidecar in Dapr mode) inside a pipeline span; calls outside any trace —
                // lease renewals, sidecar health polls — would each start a trace of their own.
                .AddHttpClientInstrumentation(options => options.FilterHttpRequestMessage = _ => HasParent())
                // Endpoint, protocol (grpc by default), headers and batching come from the standard OTEL_* variables.
                .AddOtlpExporter());
        return builder;
    }

    private static bool IsHousekeeping(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.Ordinal) || path.StartsWithSegments("/metrics", StringComparison.Ordinal);

    // At filter time the current activity is the HTTP client's own; it has a parent when a traced operation made the call.
    private static bool HasParent() => System.Diagnostics.Activity.Current is { } call && call.ParentSpanId != default;
}
