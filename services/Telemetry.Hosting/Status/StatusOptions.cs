using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Telemetry.Hosting.Status;

public sealed class StatusOptions
{
    /// <summary>How often each instance writes its heartbeat. An instance silent for three intervals is shown
    /// as stale; after <see cref="ForgetAfterIntervals"/> it is dropped from the status.</summary>
    [ConfigurationKeyName("HEARTBEAT_SECONDS")]
    [Range(1, 300, ErrorMessage = "HEARTBEAT_SECONDS must be a whole number of seconds from 1 to 300.")]
    public int HeartbeatSeconds { get; set; } = 5;

    public const int StaleAfterIntervals = 3;
    public const int ForgetAfterIntervals = 60;

    public TimeSpan Interval => TimeSpan.FromSeconds(HeartbeatSeconds);
}
