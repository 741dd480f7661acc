using Dapr.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Telemetry.DaprDouble;

namespace Telemetry.DaprDouble.Tests;

/// <summary>The app under test gets the sidecar's endpoints through configuration, as DAPR_*_ENDPOINT env vars would.</summary>
public sealed class AppWiringTests
{
    [Fact]
    public async Task App_using_AddDaprClient_reaches_the_sidecar_through_configuration()
    {
        await using var backend = new DaprBackend();
        var store = backend.AddStateStore("statestore", KeyPrefixMode.Name);
        var sidecar = await backend.StartSidecarAsync("collector");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseTestServer();
        builder.Configuration.AddInMemoryCollection(sidecar.AppConfiguration);
        builder.Services.AddDaprClient();
        await using var app = builder.Build();
        app.MapPost("/save/{key}", async (string key, DaprClient dapr) =>
        {
            await dapr.WaitForSidecarAsync();
            await dapr.SaveStateAsync("statestore", key, "from-app");
            return Results.NoContent();
        });
        await app.StartAsync();

        using var http = app.GetTestClient();
        (await http.PostAsync("/save/gpu-1", null)).EnsureSuccessStatusCode();

        Assert.Equal("\"from-app\"", store.Entries["statestore||gpu-1"].ValueAsString);
        Assert.Equal(1, sidecar.Calls["SaveState"]);
    }
}
