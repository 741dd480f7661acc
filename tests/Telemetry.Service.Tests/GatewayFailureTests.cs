using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Telemetry.Core.Storage;
using Telemetry.Service.Tests.Support;

namespace Telemetry.Service.Tests;

/// <summary>The API when its state store fails: readiness says so, errors are problem+json without internals.</summary>
public sealed class GatewayFailureTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private EmbeddedFactory Host(IKeyValueStore store, string? environment = null)
    {
        var settings = EmbeddedFactory.Quiet(_dir.File("empty.csv", Dcgm.File([])));
        if (environment is not null) settings["ENVIRONMENT"] = environment;
        return new EmbeddedFactory(settings, services => services.Replace(ServiceDescriptor.Singleton(store)));
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task A_failing_store_gives_500_problem_json_without_stack_trace_or_exception_text(string environment)
    {
        var store = new ThrowingStore();
        await using var host = Host(store, environment);
        using var api = host.ClientOn(EmbeddedFactory.ApiPort);
        foreach (var path in new[] { "/api/v1/gpus", "/api/v1/gpus/GPU-1", "/api/v1/gpus/GPU-1/telemetry", "/api/v1/hosts", "/api/v1/hosts/h/gpus" })
        {
            using var response = await api.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.InternalServerError, $"{path}: {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Http.AssertNoInternals(body);
            Assert.DoesNotContain("hunter2", body);
            Assert.DoesNotContain("db-internal", body);
        }
        Assert.True(store.Calls >= 5);
    }

    [Fact]
    public async Task Readiness_is_503_while_the_store_does_not_answer_and_liveness_stays_200()
    {
        await using var host = Host(new UnreachableStore());
        using var api = host.ClientOn(EmbeddedFactory.ApiPort);
        using var ready = await api.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        using var live = await api.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact]
    public async Task Readiness_is_503_when_the_store_ping_throws_and_the_reason_is_not_shown()
    {
        await using var host = Host(new ThrowingStore());
        using var api = host.ClientOn(EmbeddedFactory.ApiPort);
        using var ready = await api.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.DoesNotContain("hunter2", await ready.Content.ReadAsStringAsync());
    }

    public void Dispose() => _dir.Dispose();
}
