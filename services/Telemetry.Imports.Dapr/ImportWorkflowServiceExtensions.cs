using Dapr.Workflow;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Imports.Workflow;

namespace Telemetry.Imports;

public static class ImportWorkflowServiceExtensions
{
    /// <summary>Dapr mode: each import is a Dapr Workflow (needs placement, scheduler and an actor state store).</summary>
    public static IServiceCollection AddImportWorkflows(this IServiceCollection services)
    {
        services.AddDaprWorkflow(options =>
        {
            options.RegisterWorkflow<ImportWorkflow>(ImportWorkflow.Name);
            options.RegisterActivity<StartImportActivity>(StartImportActivity.Name);
            options.RegisterActivity<ReadAndPublishChunkActivity>(ReadAndPublishChunkActivity.Name);
            options.RegisterActivity<FinishImportActivity>(FinishImportActivity.Name);
        });
        services.AddSingleton<IImportWorkflowEngine, DaprImportWorkflowEngine>();
        services.AddSingleton<DaprWorkflowImportScheduler>();
        services.AddSingleton<IImportScheduler>(provider => provider.GetRequiredService<DaprWorkflowImportScheduler>());
        services.AddHostedService(provider => provider.GetRequiredService<DaprWorkflowImportScheduler>());
        return services;
    }
}
