using System.ComponentModel.DataAnnotations;
using Telemetry.Core.Windows;

namespace Telemetry.Gateway;

public sealed class QueryOptions
{
    /// <summary>Decoded samples the gateway keeps for later queries (about 40 bytes each), so a window read again
    /// (a dashboard polling a GPU, or a client paging) is not decoded again. 0 turns the cache off.</summary>
    [ConfigurationKeyName("QUERY_CACHE_SAMPLES")]
    [Range(0, 100_000_000, ErrorMessage = "QUERY_CACHE_SAMPLES must be a whole number of samples from 0 to 100000000 (0: no cache).")]
    public int CacheSamples { get; set; } = WindowReader.DefaultCachedSamples;
}
