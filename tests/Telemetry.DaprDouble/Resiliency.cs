using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Telemetry.DaprDouble;

/// <summary>
/// A retry policy as daprd builds it from a Resiliency spec (dapr/kit <c>retry/retry.go</c>, <c>Config.NewBackOff</c>):
/// constant waits <see cref="Duration"/>; exponential starts at <see cref="InitialInterval"/> (default 500 ms) and
/// grows by 1.5 with ±50 % jitter up to <see cref="MaxInterval"/> (cenkalti/backoff defaults). MaxRetries -1 retries
/// without end.
/// </summary>
public sealed record RetryPolicy(bool Exponential, TimeSpan Duration, TimeSpan InitialInterval, TimeSpan MaxInterval, int MaxRetries)
{
    public static RetryPolicy Constant(TimeSpan duration, int maxRetries) => new(false, duration, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(60), maxRetries);

    /// <summary>The wait before retry number <paramref name="retry"/> (1-based).</summary>
    public TimeSpan Delay(int retry)
    {
        if (!Exponential) return Duration;
        var interval = InitialInterval.TotalMilliseconds * Math.Pow(1.5, retry - 1);
        interval = Math.Min(interval, MaxInterval.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(interval * (0.5 + Random.Shared.NextDouble()));
    }

    public bool AllowsRetry(int retriesSoFar) => MaxRetries < 0 || retriesSoFar < MaxRetries;
}

/// <summary>A circuit breaker's settings; daprd runs sony/gobreaker with them (dapr <c>pkg/resiliency/breaker</c>).
/// Only trips of the form <c>consecutiveFailures &gt;= N</c> (or <c>&gt; N</c>) are understood.</summary>
public sealed record BreakerPolicy(uint MaxRequests, TimeSpan Interval, TimeSpan Timeout, int TripAtConsecutiveFailures);

/// <summary>What a Resiliency spec applies to one component.</summary>
public sealed record ComponentPolicies(RetryPolicy? OutboundRetry, BreakerPolicy? OutboundBreaker, RetryPolicy? InboundRetry);

/// <summary>A Resiliency resource: named policies and the components they target, for the app ids in its scopes.</summary>
public sealed class ResiliencySpec
{
    public Dictionary<string, ComponentPolicies> Components { get; } = new(StringComparer.Ordinal);

    /// <summary>Empty: every app id.</summary>
    public List<string> Scopes { get; } = [];

    /// <summary>A spec with one target, for tests that build their policies in code.</summary>
    public static ResiliencySpec ForComponent(string component, ComponentPolicies policies)
    {
        var spec = new ResiliencySpec();
        spec.Components[component] = policies;
        return spec;
    }

    public bool AppliesTo(string appId) => Scopes.Count == 0 || Scopes.Contains(appId);

    public ComponentPolicies? For(string component, string appId) =>
        AppliesTo(appId) ? Components.GetValueOrDefault(component) : null;

    /// <summary>Reads a <c>kind: Resiliency</c> YAML file (e.g. <c>components/resiliency.yaml</c>).</summary>
    public static ResiliencySpec Load(string path)
    {
        var yaml = new YamlStream();
        using (var reader = File.OpenText(path)) yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var spec = new ResiliencySpec();
        if (root.Children.TryGetValue("scopes", out var scopes))
            spec.Scopes.AddRange(((YamlSequenceNode)scopes).Select(s => ((YamlScalarNode)s).Value!));

        var policies = Map(Map(root, "spec"), "policies");
        var retries = Map(policies, "retries");
        var breakers = Map(policies, "circuitBreakers");
        var components = Map(Map(Map(root, "spec"), "targets"), "components");
        foreach (var (name, node) in components.Children)
        {
            var target = (YamlMappingNode)node;
            var outbound = Map(target, "outbound");
            var inbound = Map(target, "inbound");
            spec.Components[((YamlScalarNode)name).Value!] = new ComponentPolicies(
                Named(outbound, "retry", retries, Retry),
                Named(outbound, "circuitBreaker", breakers, Breaker),
                Named(inbound, "retry", retries, Retry));
        }
        return spec;
    }

    private static T? Named<T>(YamlMappingNode target, string field, YamlMappingNode definitions, Func<YamlMappingNode, T> parse) where T : class
    {
        var name = Scalar(target, field);
        if (name is null) return null;
        return definitions.Children.TryGetValue(name, out var definition)
            ? parse((YamlMappingNode)definition)
            : throw new InvalidDataException($"Resiliency target names policy '{name}', which is not defined.");
    }

    private static RetryPolicy Retry(YamlMappingNode node) => new(
        Scalar(node, "policy") == "exponential",
        Duration(Scalar(node, "duration")) ?? TimeSpan.FromSeconds(5),
        Duration(Scalar(node, "initialInterval")) ?? TimeSpan.FromMilliseconds(500),
        Duration(Scalar(node, "maxInterval")) ?? TimeSpan.FromSeconds(60),
        int.Parse(Scalar(node, "maxRetries") ?? "-1", CultureInfo.InvariantCulture));

    private static BreakerPolicy Breaker(YamlMappingNode node)
    {
        var trip = Scalar(node, "trip") ?? "consecutiveFailures > 5"; // daprd's default trip
        var match = Regex.Match(trip, @"^\s*consecutiveFailures\s*(>=|>)\s*(\d+)\s*$");
        if (!match.Success) throw new NotSupportedException($"The double understands only 'consecutiveFailures >= N' trips, not '{trip}'.");
        var n = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        return new BreakerPolicy(
            uint.Parse(Scalar(node, "maxRequests") ?? "1", CultureInfo.InvariantCulture),
            Duration(Scalar(node, "interval")) ?? TimeSpan.Zero,
            Duration(Scalar(node, "timeout")) ?? TimeSpan.FromSeconds(60),
            match.Groups[1].Value == ">" ? n + 1 : n);
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var child) && child is YamlMappingNode map ? map : new YamlMappingNode();

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var child) && child is YamlScalarNode scalar ? scalar.Value : null;

    /// <summary>Go durations as Dapr writes them: 500ms, 2s, 1m, 1h (one unit).</summary>
    private static TimeSpan? Duration(string? text)
    {
        if (text is null) return null;
        var match = Regex.Match(text, @"^(\d+(?:\.\d+)?)(ms|s|m|h)$");
        if (!match.Success) throw new InvalidDataException($"Unsupported duration '{text}'.");
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(value),
            "s" => TimeSpan.FromSeconds(value),
            "m" => TimeSpan.FromMinutes(value),
            _ => TimeSpan.FromHours(value),
        };
    }
}

/// <summary>
/// sony/gobreaker's state machine as daprd uses it: closed counts results (every error is a failure — the breaker
/// cannot tell an ETag conflict from an outage) and trips to open; open fails every call for <c>timeout</c>; then
/// half-open lets <c>maxRequests</c> calls through and closes after that many successes, or opens again on a failure.
/// In the closed state the counts are cleared every <c>interval</c> (0: never).
/// </summary>
public sealed class CircuitBreaker(BreakerPolicy policy, TimeProvider time)
{
    private readonly Lock _gate = new();
    private BreakerState _state = BreakerState.Closed;
    private int _consecutiveFailures, _consecutiveSuccesses, _halfOpenRequests;
    private DateTimeOffset _expiry = DateTimeOffset.MinValue;
    private int _openings;

    public enum BreakerState { Closed, Open, HalfOpen }

    /// <summary>Times the breaker tripped to open.</summary>
    public int Openings => Volatile.Read(ref _openings);

    public BreakerState State
    {
        get { lock (_gate) return Current(time.GetUtcNow()); }
    }

    /// <summary>Lets a call through, or throws <see cref="BreakerOpenException"/> (open, or half-open and full).</summary>
    internal void Enter()
    {
        lock (_gate)
        {
            var state = Current(time.GetUtcNow());
            if (state == BreakerState.Open) throw new BreakerOpenException();
            if (state == BreakerState.HalfOpen)
            {
                if (_halfOpenRequests >= policy.MaxRequests) throw new BreakerOpenException("too many requests");
                _halfOpenRequests++;
            }
        }
    }

    /// <summary>Counts the result of a call <see cref="Enter"/> let through.</summary>
    internal void Record(bool success)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            var state = Current(now);
            if (success)
            {
                _consecutiveSuccesses++;
                _consecutiveFailures = 0;
                if (state == BreakerState.HalfOpen && _consecutiveSuccesses >= policy.MaxRequests) Transition(BreakerState.Closed, now);
                return;
            }
            _consecutiveFailures++;
            _consecutiveSuccesses = 0;
            if (state == BreakerState.HalfOpen || (state == BreakerState.Closed && _consecutiveFailures >= policy.TripAtConsecutiveFailures))
            {
                Transition(BreakerState.Open, now);
                _openings++;
            }
        }
    }

    private BreakerState Current(DateTimeOffset now)
    {
        if (_expiry == DateTimeOffset.MinValue) Transition(BreakerState.Closed, now); // first use starts the first generation
        if (_state == BreakerState.Closed && policy.Interval > TimeSpan.Zero && now >= _expiry) Transition(BreakerState.Closed, now);
        else if (_state == BreakerState.Open && now >= _expiry) Transition(BreakerState.HalfOpen, now);
        return _state;
    }

    private void Transition(BreakerState state, DateTimeOffset now)
    {
        _state = state;
        _consecutiveFailures = _consecutiveSuccesses = _halfOpenRequests = 0;
        _expiry = state switch
        {
            BreakerState.Closed => policy.Interval > TimeSpan.Zero ? now + policy.Interval : DateTimeOffset.MaxValue,
            BreakerState.Open => now + policy.Timeout,
            _ => DateTimeOffset.MaxValue,
        };
    }
}

/// <summary>gobreaker's ErrOpenState / ErrTooManyRequests.</summary>
internal sealed class BreakerOpenException(string message = "circuit breaker is open") : Exception(message);
