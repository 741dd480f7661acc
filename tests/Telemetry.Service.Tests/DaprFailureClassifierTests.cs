using Dapr;
using Grpc.Core;
using Telemetry.Core.Resilience;
using Telemetry.Dapr;

namespace Telemetry.Service.Tests;

/// <summary>The sidecar's gRPC answers, as the Dapr client throws them (wrapped in a DaprException): an unreachable
/// sidecar or a failing broker is waited for; a setting the sidecar refuses is not.</summary>
public sealed class DaprFailureClassifierTests
{
    [Theory]
    [InlineData(StatusCode.Unavailable, FailureKind.Transient)]
    [InlineData(StatusCode.DeadlineExceeded, FailureKind.Transient)]
    [InlineData(StatusCode.Aborted, FailureKind.Transient)]
    [InlineData(StatusCode.Internal, FailureKind.Transient)]     // PubSubPublishMessage: the broker failed
    [InlineData(StatusCode.InvalidArgument, FailureKind.Permanent)] // PubSubNotFound, PubSubTopicEmpty
    [InlineData(StatusCode.FailedPrecondition, FailureKind.Permanent)] // PubSubNotConfigured
    [InlineData(StatusCode.PermissionDenied, FailureKind.Permanent)] // PubSubPublishForbidden
    [InlineData(StatusCode.ResourceExhausted, FailureKind.Permanent)] // over the gRPC message size limit
    public void Sidecar_status_codes_are_classified(StatusCode code, FailureKind kind)
    {
        var rpc = new RpcException(new Status(code, "detail"));
        var classifier = new DaprFailureClassifier();

        Assert.Equal(kind, classifier.Classify(rpc));
        Assert.Equal(kind, classifier.Classify(new DaprException("Publish operation failed", rpc)));
    }

    [Fact]
    public void Without_the_Dapr_rules_a_sidecar_error_is_not_waited_for() =>
        Assert.Equal(FailureKind.Permanent, FailureClassifier.Default.Classify(new RpcException(new Status(StatusCode.Unavailable, ""))));
}
