using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Telemetry.Hosting;

public static class SettingsExtensions
{
    /// <summary>Binds an options class from the root configuration (environment variables keep the original
    /// deployment's names through <see cref="ConfigurationKeyNameAttribute"/>), validates its data
    /// annotations and fails start-up when they do not hold. Messages name the setting as the user wrote it
    /// (<c>MAX_ENTRIES</c>), not the property (<c>MaxEntries</c>).</summary>
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services) where T : class =>
        services.AddSingleton<IValidateOptions<T>, SettingsValidator<T>>()
            .AddOptions<T>().BindConfiguration("").ValidateOnStart();

    /// <summary>Reads a setting now, for decisions made while the host is being built (ports, which store).</summary>
    public static T ReadSettings<T>(this IConfiguration configuration) where T : class, new()
    {
        var settings = new T();
        configuration.Bind(settings);
        var failures = Validate(settings);
        if (failures.Count > 0) throw new OptionsValidationException(typeof(T).Name, typeof(T), failures);
        return settings;
    }

    /// <summary>The data-annotation failures of <paramref name="settings"/>, each naming the configuration key.</summary>
    public static List<string> Validate(object settings)
    {
        var failures = new List<string>();
        foreach (var property in settings.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!property.CanRead || property.GetIndexParameters().Length > 0) continue;
            var key = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
            var context = new ValidationContext(settings) { MemberName = property.Name, DisplayName = key };
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateProperty(property.GetValue(settings), context, results))
            {
                failures.AddRange(results.Select(result => result.ErrorMessage ?? $"{key} is invalid."));
            }
        }
        return failures;
    }
}

/// <summary>Data annotations of a settings class, reported by configuration key.</summary>
internal sealed class SettingsValidator<T> : IValidateOptions<T> where T : class
{
    public ValidateOptionsResult Validate(string? name, T options) =>
        SettingsExtensions.Validate(options) is { Count: > 0 } failures
            ? ValidateOptionsResult.Fail(failures)
            : ValidateOptionsResult.Success;
}
