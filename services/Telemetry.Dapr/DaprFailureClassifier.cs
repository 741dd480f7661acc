using Grpc.Core;
using Telemetry.Core.Resilience;

namespace Telemetry.Dapr;

/// <summary>
/// Adds what the Dapr client throws to the core's classification: an <see cref="RpcException"/> (wrapped in a
/// <c>DaprException</c>, which the core unwraps) with the sidecar's status code. Codes as daprd sets them in
/// dapr/dapr <c>pkg/api/errors/pubsub.go</c>: a broker that failed the publish is <c>Internal</c>
/// (<c>PubSubPublishMessage</c>); a pub/sub that is not found, not configured or has an empty name or topic is
/// <c>InvalidArgument</c> or <c>FailedPrecondition</c>, and a topic the app may not use is <c>PermissionDenied</c>
/// (<c>PubSubPublishForbidden</c>): those are settings, the same on every try.
/// </summary>
public sealed class DaprFailureClassifier : FailureClassifier
{
    protected override bool IsTransient(Exception error) => error switch
    {
        RpcException rpc => rpc.StatusCode switch
        {
            // The sidecar is not reachable (not started, restarting) or did not answer in time.
            StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Cancelled => true,
            // A guarded write lost a race, or the broker / store behind the sidecar failed.
            StatusCode.Aborted or StatusCode.Internal => true,
            // Among the rest: ResourceExhausted is a message over the gRPC size limit, the same batch every time.
            _ => false,
        },
        _ => base.IsTransient(error),
    };
}
