using System.Text.Json;
using Dapr.Client.Autogen.Grpc.v1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Telemetry.DaprDouble;

/// <summary>
/// The server side of <c>dapr.proto.runtime.v1.Dapr</c> for one sidecar. Dapr.Protos ships only the client,
/// so the methods are bound by hand in <see cref="BindService"/>. Handlers are public virtual (Grpc.AspNetCore
/// finds them by gRPC method name on the service type) so a test can subclass to add behaviour.
/// Methods not bound here answer Unimplemented, as a daprd without that building block would.
/// </summary>
[BindServiceMethod(typeof(DaprRuntimeService), nameof(BindService))]
public class DaprRuntimeService(DaprSidecar sidecar)
{
    public const string ServiceName = "dapr.proto.runtime.v1.Dapr";

    protected DaprSidecar Sidecar { get; } = sidecar;
    private DaprBackend Backend => Sidecar.Backend;

    public static void BindService(ServiceBinderBase binder, DaprRuntimeService? service)
    {
        // Grpc.AspNetCore passes null and resolves each handler by name; other hosts pass the instance.
        binder.AddMethod(Unary<GetStateRequest, GetStateResponse>(nameof(GetState)), service is null ? null : service.GetState);
        binder.AddMethod(Unary<GetBulkStateRequest, GetBulkStateResponse>(nameof(GetBulkState)), service is null ? null : service.GetBulkState);
        binder.AddMethod(Unary<SaveStateRequest, Empty>(nameof(SaveState)), service is null ? null : service.SaveState);
        binder.AddMethod(Unary<DeleteStateRequest, Empty>(nameof(DeleteState)), service is null ? null : service.DeleteState);
        binder.AddMethod(Unary<DeleteBulkStateRequest, Empty>(nameof(DeleteBulkState)), service is null ? null : service.DeleteBulkState);
        binder.AddMethod(Unary<ExecuteStateTransactionRequest, Empty>(nameof(ExecuteStateTransaction)), service is null ? null : service.ExecuteStateTransaction);
        binder.AddMethod(Unary<PublishEventRequest, Empty>(nameof(PublishEvent)), service is null ? null : service.PublishEvent);
        binder.AddMethod(Unary<BulkPublishRequest, BulkPublishResponse>(nameof(BulkPublishEventAlpha1)), service is null ? null : service.BulkPublishEventAlpha1);
        binder.AddMethod(Unary<BulkPublishRequest, BulkPublishResponse>(nameof(BulkPublishEvent)), service is null ? null : service.BulkPublishEvent);
        binder.AddMethod(Unary<GetMetadataRequest, GetMetadataResponse>(nameof(GetMetadata)), service is null ? null : service.GetMetadata);
        binder.AddMethod(Unary<SetMetadataRequest, Empty>(nameof(SetMetadata)), service is null ? null : service.SetMetadata);
        binder.AddMethod(Unary<ShutdownRequest, Empty>(nameof(Shutdown)), service is null ? null : service.Shutdown);
    }

    private static Method<TReq, TRes> Unary<TReq, TRes>(string name)
        where TReq : class, IMessage<TReq>, new() where TRes : class, IMessage<TRes>, new() =>
        new(MethodType.Unary, ServiceName, name, Marshal<TReq>(), Marshal<TRes>());

    private static Marshaller<T> Marshal<T>() where T : class, IMessage<T>, new()
    {
        var parser = new MessageParser<T>(() => new T());
        return Marshallers.Create(m => m.ToByteArray(), parser.ParseFrom);
    }

    // ---- state ----
    // Each handler runs the store operation under the sidecar's outbound policy for the component and maps a store
    // error to the gRPC status daprd's API layer gives it (dapr pkg/api/grpc/grpc.go, getStateErrorCode and the
    // handlers below; messages from pkg/messages/predefined.go).

    public virtual async Task<GetStateResponse> GetState(GetStateRequest request, ServerCallContext context)
    {
        var entry = await RunStateAsync(nameof(GetState), request.StoreName, context, store => store.Get(Sidecar.AppId, request.Key),
            error => Status(StatusCode.Internal, $"fail to get {request.Key} from state store {request.StoreName}: {error.Message}"));
        var response = new GetStateResponse();
        if (entry is null) return response; // daprd answers a missing key with empty data and no ETag, not NotFound.
        response.Data = ByteString.CopyFrom(entry.Value);
        response.Etag = entry.ETag;
        if (entry.ExpiresAt is { } at) response.Metadata["ttlExpireTime"] = at.UtcDateTime.ToString("O");
        return response;
    }

    /// <summary>Bulk get reads key by key (components-contrib state.BulkStore, <c>BulkGet</c>): a key whose read fails
    /// gets an item carrying the error and no data, and the call itself succeeds.</summary>
    public virtual async Task<GetBulkStateResponse> GetBulkState(GetBulkStateRequest request, ServerCallContext context)
    {
        return await RunStateAsync(nameof(GetBulkState), request.StoreName, context, store =>
        {
            var response = new GetBulkStateResponse();
            foreach (var key in request.Keys)
            {
                var item = new BulkStateItem { Key = key, Data = ByteString.Empty, Etag = "" };
                try
                {
                    if (store.Get(Sidecar.AppId, key) is { } entry)
                    {
                        item.Data = ByteString.CopyFrom(entry.Value);
                        item.Etag = entry.ETag;
                    }
                }
                catch (StoreError error)
                {
                    item.Error = error.Message;
                }
                response.Items.Add(item); // missing keys still get an item, with empty data and ETag
            }
            return response;
        }, error => Status(StatusCode.Internal, error.Message));
    }

    public virtual async Task<Empty> SaveState(SaveStateRequest request, ServerCallContext context)
    {
        // PerformBulkStoreOperation (pkg/components/state/bulk.go) makes ETag errors permanent: never retried.
        await RunStateAsync(nameof(SaveState), request.StoreName, context, store =>
        {
            store.CountRequested(request.States.Sum(s => (long)s.Value.Length));
            store.Apply(Sidecar.AppId, [.. request.States.Select(s => ToWrite(s, delete: false))]);
            return true;
        }, error => Status(CodeOf(error), $"failed saving state in state store {request.StoreName}: {error.Message}"), etagErrorsArePermanent: true);
        return new Empty();
    }

    public virtual async Task<Empty> DeleteState(DeleteStateRequest request, ServerCallContext context)
    {
        // DeleteState runs a plain policy runner: every error, an ETag mismatch included, is retried.
        await RunStateAsync(nameof(DeleteState), request.StoreName, context, store =>
        {
            store.Apply(Sidecar.AppId, [new StateWrite(request.Key, null, request.Etag?.Value, Concurrency(request.Options), request.Metadata)]);
            return true;
        }, error => Status(CodeOf(error), $"failed deleting state with key {request.Key}: {error.Message}"));
        return new Empty();
    }

    public virtual async Task<Empty> DeleteBulkState(DeleteBulkStateRequest request, ServerCallContext context)
    {
        await RunStateAsync(nameof(DeleteBulkState), request.StoreName, context, store =>
        {
            store.Apply(Sidecar.AppId, [.. request.States.Select(s => ToWrite(s, delete: true))]);
            return true;
        }, error => Status(CodeOf(error), $"failed deleting state in state store {request.StoreName}: {error.Message}"), etagErrorsArePermanent: true);
        return new Empty();
    }

    /// <summary>ExecuteStateTransaction: the whole <c>Multi</c> runs under the outbound policy (a retry re-runs every
    /// operation, each attempt counts in the breaker) and any failure is Internal, whatever the store said.</summary>
    public virtual async Task<Empty> ExecuteStateTransaction(ExecuteStateTransactionRequest request, ServerCallContext context)
    {
        var writes = new List<StateWrite>(request.Operations.Count);
        foreach (var op in request.Operations)
        {
            var write = op.OperationType switch
            {
                "upsert" => ToWrite(op.Request, delete: false),
                "delete" => ToWrite(op.Request, delete: true),
                _ => throw new RpcException(new Status(StatusCode.Unimplemented, $"operation type {op.OperationType} not supported")),
            };
            // Request-level metadata (e.g. ttlInSeconds) applies to operations that do not set their own.
            var metadata = new Dictionary<string, string>(request.Metadata);
            foreach (var kv in write.Metadata) metadata[kv.Key] = kv.Value;
            writes.Add(write with { Metadata = metadata });
        }
        await RunStateAsync(nameof(ExecuteStateTransaction), request.StoreName, context, store =>
        {
            store.CountRequested(writes.Sum(w => (long)(w.Value?.Length ?? 0)));
            store.Transact(Sidecar.AppId, writes);
            return true;
        }, error => Status(StatusCode.Internal, $"error while executing state transaction: {error.Message}"));
        return new Empty();
    }

    private static StateWrite ToWrite(StateItem item, bool delete) => new(
        item.Key,
        delete ? null : item.Value.ToByteArray(),
        item.Etag?.Value,
        Concurrency(item.Options),
        item.Metadata);

    private static WriteConcurrency Concurrency(StateOptions? options) => options?.Concurrency switch
    {
        StateOptions.Types.StateConcurrency.ConcurrencyFirstWrite => WriteConcurrency.FirstWrite,
        StateOptions.Types.StateConcurrency.ConcurrencyLastWrite => WriteConcurrency.LastWrite,
        _ => WriteConcurrency.Unspecified,
    };

    private static StatusCode CodeOf(Exception error) => error switch
    {
        StoreError { ETagMismatch: true } => StatusCode.Aborted,
        StoreError { ETagInvalid: true } => StatusCode.InvalidArgument,
        _ => StatusCode.Internal,
    };

    private static RpcException Status(StatusCode code, string detail) => new(new Status(code, detail));

    /// <summary>
    /// Runs one state API call: resolves the component, then runs the store operation under the outbound Resiliency
    /// policy (dapr pkg/resiliency/policy.go, <c>NewRunnerWithOptions</c>): the circuit breaker sees every attempt
    /// and counts every error; the retry policy re-runs the operation unless the breaker is open or the error is
    /// permanent. Injected faults happen inside the store call, as an unreachable Redis would.
    /// </summary>
    private async Task<T> RunStateAsync<T>(string method, string storeName, ServerCallContext context, Func<InMemoryStateStore, T> operation,
        Func<Exception, RpcException> toStatus, bool etagErrorsArePermanent = false)
    {
        Enter(method, context);
        var store = Backend.ResolveStore(storeName, Sidecar.AppId);
        var retry = Backend.Resiliency?.For(storeName, Sidecar.AppId)?.OutboundRetry;
        var breaker = Sidecar.OutboundBreaker(storeName);
        for (var retries = 0; ; retries++)
        {
            Exception failure;
            try
            {
                breaker?.Enter();
                try
                {
                    var result = await AttemptAsync(store, operation, context.CancellationToken);
                    breaker?.Record(success: true);
                    return result;
                }
                catch (StoreError error)
                {
                    breaker?.Record(success: false);
                    failure = error;
                }
            }
            catch (BreakerOpenException open)
            {
                failure = open;
            }
            var permanent = failure is BreakerOpenException || (etagErrorsArePermanent && failure is StoreError { ETagMismatch: true } or StoreError { ETagInvalid: true });
            if (permanent || retry is null || !retry.AllowsRetry(retries)) throw toStatus(failure);
            Sidecar.Calls.Increment($"{method}.retry");
            await Task.Delay(retry.Delay(retries + 1), context.CancellationToken);
        }
    }

    private async Task<T> AttemptAsync<T>(InMemoryStateStore store, Func<InMemoryStateStore, T> operation, CancellationToken cancellationToken)
    {
        var faults = Backend.Faults;
        if (faults.StateDelay > TimeSpan.Zero) await Task.Delay(faults.StateDelay, cancellationToken);
        if (faults.StateUnavailable || faults.StateUnavailableForAppId == Sidecar.AppId)
            throw new StoreError("dial tcp 127.0.0.1:6379: connect: connection refused (fault injected)");
        return operation(store);
    }

    // ---- pub/sub ----

    public virtual Task<Empty> PublishEvent(PublishEventRequest request, ServerCallContext context)
    {
        Enter(nameof(PublishEvent), context);
        var broker = ResolveTopic(request.PubsubName, request.Topic);
        broker.Publish(NewMessage(broker, request.Topic, request.Data.Span, request.DataContentType, context));
        return Task.FromResult(new Empty());
    }

    public virtual Task<BulkPublishResponse> BulkPublishEventAlpha1(BulkPublishRequest request, ServerCallContext context) =>
        Task.FromResult(BulkPublish(nameof(BulkPublishEventAlpha1), request, context));

    public virtual Task<BulkPublishResponse> BulkPublishEvent(BulkPublishRequest request, ServerCallContext context) =>
        Task.FromResult(BulkPublish(nameof(BulkPublishEvent), request, context));

    private BulkPublishResponse BulkPublish(string method, BulkPublishRequest request, ServerCallContext context)
    {
        Enter(method, context);
        var broker = ResolveTopic(request.PubsubName, request.Topic);
        var response = new BulkPublishResponse();
        if (request.Entries.Select(e => e.EntryId).Distinct().Count() != request.Entries.Count)
            throw new RpcException(new Status(StatusCode.InvalidArgument, "entryId is duplicated or missing"));
        // Each entry becomes an independent message; bulk publish is not transactional.
        foreach (var entry in request.Entries)
        {
            try
            {
                broker.Publish(NewMessage(broker, request.Topic, entry.Event.Span, entry.ContentType, context));
            }
            catch (JsonException ex)
            {
                response.FailedEntries.Add(new BulkPublishResponseFailedEntry { EntryId = entry.EntryId, Error = ex.Message });
            }
        }
        return response;
    }

    private PubSubBroker ResolveTopic(string pubsub, string topic)
    {
        var broker = Backend.ResolvePubSub(pubsub, Sidecar.AppId);
        if (string.IsNullOrEmpty(topic)) throw new RpcException(new Status(StatusCode.InvalidArgument, $"topic is empty in pubsub {pubsub}"));
        if (Backend.Faults.ConsumePublishFailure())
            throw new RpcException(new Status(StatusCode.Unavailable, $"error when publish to topic {topic} in pubsub {pubsub}: broker unavailable (fault injected)"));
        return broker;
    }

    private BrokerMessage NewMessage(PubSubBroker broker, string topic, ReadOnlySpan<byte> data, string contentType, ServerCallContext context)
    {
        var trace = context.RequestHeaders.GetValue("traceparent");
        try
        {
            var ce = CloudEvents.Create(data, contentType, Sidecar.AppId, broker.Name, topic, trace, Backend.Time.GetUtcNow());
            return new BrokerMessage(ce["id"]!.ToString(), broker.Name, topic, ce, Sidecar.AppId);
        }
        catch (JsonException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"cannot create cloudevent: {ex.Message}"));
        }
    }

    // ---- metadata & lifecycle ----

    public virtual Task<GetMetadataResponse> GetMetadata(GetMetadataRequest request, ServerCallContext context)
    {
        Enter(nameof(GetMetadata), context);
        var response = new GetMetadataResponse { Id = Sidecar.AppId, RuntimeVersion = "double" };
        foreach (var s in Backend.StoresFor(Sidecar.AppId))
            response.RegisteredComponents.Add(new RegisteredComponents { Name = s.Name, Type = s.ComponentType, Version = s.Kind == StateStoreKind.PostgreSql ? "v2" : "v1", Capabilities = { "ETAG", "TRANSACTIONAL", "TTL" } });
        foreach (var b in Backend.PubSubsFor(Sidecar.AppId))
            response.RegisteredComponents.Add(new RegisteredComponents { Name = b.Name, Type = "pubsub.redis", Version = "v1", Capabilities = { "BULK_PUBLISH", "BULK_SUBSCRIBE" } });
        foreach (var kv in Sidecar.ExtendedMetadata) response.ExtendedMetadata[kv.Key] = kv.Value;
        return Task.FromResult(response);
    }

    public virtual Task<Empty> SetMetadata(SetMetadataRequest request, ServerCallContext context)
    {
        Enter(nameof(SetMetadata), context);
        Sidecar.ExtendedMetadata[request.Key] = request.Value;
        return Task.FromResult(new Empty());
    }

    public virtual Task<Empty> Shutdown(ShutdownRequest request, ServerCallContext context)
    {
        Enter(nameof(Shutdown), context);
        _ = Task.Run(Sidecar.KillAsync);
        return Task.FromResult(new Empty());
    }

    /// <summary>Counts the call and enforces the API token, as daprd's auth middleware would.</summary>
    protected void Enter(string method, ServerCallContext context)
    {
        Sidecar.Calls.Increment(method);
        var token = Sidecar.Options.DaprApiToken;
        if (token is not null && context.RequestHeaders.GetValue("dapr-api-token") != token)
            throw new RpcException(new Status(StatusCode.Unauthenticated, "authentication error: api token mismatch"));
    }
}
