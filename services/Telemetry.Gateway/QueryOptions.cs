using System.ComponentModel.DataAnnotations;
using Telemetry.Core.Windows;

namespace Telemetry.Gateway;

public sealed class QueryOptions
{
    /// <summary>Decoded samples the gateway keeps for later queries (about 40 bytes each), so a window read again
    /// (a dashboard polling a GPU, or a client paging) is not decoded again. 0 turns the cache off; unset, a tenth of
    /// the memory the process may use (<see cref="WindowReader.CacheSamplesFor"/>).</summary>
    [ConfigurationKeyName("QUERY_CACHE_SAMPLES")]
    [Range(0, WindowReader.MaxCachedSamples,
        ErrorMessage = "QUERY_CACHE_SAMPLES must be a whole number of samples from 0 to 100000000 (0: no cache; unset: a tenth of the memory available).")]
    public int? CacheSamples { get; set; }

    /// <summary>The cache size in effect.</summary>
    public int EffectiveCacheSamples => CacheSamples ?? WindowReader.CacheSamplesFor(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
}
