using DotNet.Testcontainers.Configurations;

namespace Telemetry.Imports.Tests;

/// <summary>A fact that runs only where a Docker engine answers. xunit 2 has no dynamic skip, so the reason
/// is decided when the attribute is constructed during discovery.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (!DockerAvailable)
            Skip = "No Docker engine found (Testcontainers has no Docker endpoint); this workflow test needs daprd, placement, scheduler and Redis containers";
    }

    private static bool DockerAvailable
    {
        get
        {
            try
            {
                return TestcontainersSettings.OS.DockerEndpointAuthConfig is not null;
            }
            catch (Exception)
            {
                return false;
            }
        }
    }
}
