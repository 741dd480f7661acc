using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Telemetry.Core.Model;
using Telemetry.Core.Storage;
using Telemetry.Core.Windows;
using Telemetry.Service.Tests.Support;

namespace Telemetry.Service.Tests;

/// <summary>The gateway as its own (Dapr) app, over a memory store in place of the Dapr state store.</summary>
public sealed class GatewayHostTests
{
    private const int ApiPort = 8081, MetricsPort = 9092;

    [Fact]
    public async Task Gateway_serves_the_api_and_health_on_its_port_and_metrics_on_its_own()
    {
        var store = new MemoryKeyValueStore();
        var gpu = new GpuIdentity("GPU-gw", "host-gw", 0, "nvidia0", "NVIDIA H100 80GB HBM3");
        var t0 = new DateTime(2025, 7, 18, 20, 42, 34, DateTimeKind.Utc);
        await new WindowWriter(store, new WindowOptions()).AppendAsync(
            [new GpuSamples(gpu, [new(t0, "DCGM_FI_DEV_GPU_UTIL", 42, t0), new(t0.AddSeconds(1), "DCGM_FI_DEV_GPU_UTIL", 43, t0)])]);

        await using var host = new HostFactory<GatewayProgram>(
            new Dictionary<string, string?> { ["LOG_LEVEL"] = "Critical", ["DAPR_HTTP_ENDPOINT"] = "http://127.0.0.1:1", ["DAPR_GRPC_ENDPOINT"] = "http://127.0.0.1:1" },
            services => services.Replace(ServiceDescriptor.Singleton<IKeyValueStore>(store)));
        using var api = host.ClientOn(ApiPort);
        using var metrics = host.ClientOn(MetricsPort);

        var list = await api.GetJsonAsync("/api/v1/gpus");
        Assert.Equal(["GPU-gw"], list["gpus"].Items(g => (string)g["id"]!));
        var telemetry = await api.GetJsonAsync("/api/v1/gpus/GPU-gw/telemetry");
        Assert.Equal([42.0, 43.0], telemetry["data"].Items(p => (double)p["value"]!));
        await api.GetProblemAsync("/api/v1/gpus/GPU-none", HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/openapi/v1.json")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/health")).StatusCode);
        // No sidecar answers, so the gateway is alive but not ready.
        using var ready = await api.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await metrics.GetAsync("/health")).StatusCode);

        // The gateway defines no pipeline metrics of its own; the process metrics show the endpoint is live.
        Assert.NotNull(PrometheusText.Sum(await PrometheusText.ScrapeAsync(metrics), "process_cpu_seconds_total"));
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync("/metrics")).StatusCode);
    }
}
