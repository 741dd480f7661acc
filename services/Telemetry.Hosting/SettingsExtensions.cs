using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Telemetry.Hosting;

public static class SettingsExtensions
{
    /// <summary>Binds an options class from the root configuration (environment variables keep the original
    /// deployment's names through <see cref="ConfigurationKeyNameAttribute"/>), validates its data
    /// annotations and fails start-up when they do not hold.</summary>
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services) where T : class =>
        services.AddOptions<T>().BindConfiguration("").ValidateDataAnnotations().ValidateOnStart();

    /// <summary>Reads a setting now, for decisions made while the host is being built (ports, which store).</summary>
    public static T ReadSettings<T>(this IConfiguration configuration) where T : class, new()
    {
        var settings = new T();
        configuration.Bind(settings);
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(settings, new ValidationContext(settings), results, validateAllProperties: true))
        {
            throw new OptionsValidationException(typeof(T).Name, typeof(T), results.ConvertAll(r => r.ErrorMessage ?? "invalid"));
        }
        return settings;
    }
}
