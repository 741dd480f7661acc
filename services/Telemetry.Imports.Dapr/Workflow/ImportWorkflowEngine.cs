using Dapr.Workflow;
using Grpc.Core;

namespace Telemetry.Imports.Workflow;

/// <summary>What the import scheduler asks of the workflow engine; one seam so the scheduler's decisions can be
/// tested without a sidecar.</summary>
public interface IImportWorkflowEngine
{
    /// <summary>Starts the instance named <paramref name="id"/>. An instance that already exists counts as started.</summary>
    Task StartAsync(string id, CancellationToken cancellationToken);

    /// <summary>The instance's runtime status, or null when there is none.</summary>
    Task<WorkflowRuntimeStatus?> GetStatusAsync(string id, CancellationToken cancellationToken);

    Task RaiseCancelAsync(string id, CancellationToken cancellationToken);

    /// <summary>Deletes a finished instance's history and state from the actor state store.</summary>
    Task PurgeAsync(string id, CancellationToken cancellationToken);

    /// <summary>Resolves once the engine answers a query (the sidecar is up and serves workflows).</summary>
    Task WaitUntilReadyAsync(CancellationToken cancellationToken);
}

/// <summary>The engine through the Dapr workflow client and its sidecar.</summary>
public sealed class DaprImportWorkflowEngine(DaprWorkflowClient client, TimeProvider time) : IImportWorkflowEngine
{
    public async Task StartAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await client.ScheduleNewWorkflowAsync(ImportWorkflow.Name, id, new ImportRequest(id), null, cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.AlreadyExists)
        {
            // daprd answers AlreadyExists for an instance id that is active (dapr/dapr
            // pkg/actors/targets/workflow/orchestrator/create.go): a retried schedule of the same import.
        }
    }

    public async Task<WorkflowRuntimeStatus?> GetStatusAsync(string id, CancellationToken cancellationToken)
    {
        var state = await client.GetWorkflowStateAsync(id, false, cancellationToken);
        return state is { Exists: true } ? state.RuntimeStatus : null;
    }

    public Task RaiseCancelAsync(string id, CancellationToken cancellationToken) =>
        client.RaiseEventAsync(id, ImportWorkflow.CancelEvent, "cancel", cancellationToken);

    public Task PurgeAsync(string id, CancellationToken cancellationToken) => client.PurgeInstanceAsync(id, cancellationToken);

    /// <summary>Asks for an instance that does not exist until the answer comes back (compose starts daprd after the
    /// app, so the first calls fail with Unavailable).</summary>
    public async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await client.GetWorkflowStateAsync("import-scheduler-probe", false, cancellationToken);
                return;
            }
            catch (Exception error) when (error is RpcException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), time, cancellationToken);
            }
        }
    }
}
