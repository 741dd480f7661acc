using DotNet.Testcontainers.Configurations;

namespace Telemetry.System.Tests;

/// <summary>A test that needs a Docker engine: skipped, with the reason, where none answers.</summary>
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (TestcontainersSettings.OS.DockerEndpointAuthConfig is null)
        {
            Skip = "No Docker engine on this machine (Testcontainers found no Docker endpoint); these system tests run where Docker does.";
        }
    }
}
