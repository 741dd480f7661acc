extern alias embedded;

using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Telemetry.Imports.Tests;

/// <summary>The embedded host in memory: windows in memory, the streamer given a header-only file so it is
/// quiet, imports limited to a given size when a subclass says so.</summary>
public class EmbeddedHostFactory : WebApplicationFactory<embedded::Program>
{
    private readonly long? _maxBytes;

    public EmbeddedHostFactory() { }

    protected EmbeddedHostFactory(long maxBytes) => _maxBytes = maxBytes;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("CSV_FILE", Csv.Fixture("header_only.csv"));
        builder.UseSetting("LOOP", "false");
        builder.UseSetting("CHECKPOINT_ENABLED", "false");
        builder.UseSetting("IMPORT_CHUNK_BYTES", "16384");
        // Imports write fleet data: closed unless a key or this says the network is trusted.
        builder.UseSetting("IMPORTS_ENABLED", "true");
        if (_maxBytes is { } limit) builder.UseSetting("IMPORT_MAX_BYTES", limit.ToString());
    }
}
