public import Logging
import OTel
public import ServiceLifecycle
import Tracing

/// Exports the process's spans to an OpenTelemetry collector over OTLP/gRPC (swift-otel), with
/// W3C trace context propagation, when an endpoint is configured. Only tracing is bootstrapped:
/// metrics stay Prometheus text on `/metrics` and logs stay on stderr.
public enum OTLPTracing {
    /// Bootstraps the tracer and returns the exporter's service, to run beside the daemon. The
    /// standard `OTEL_*` environment variables (OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY, ...)
    /// refine the configuration.
    ///
    /// - Parameter endpoint: the collector, as `http://host:4317` (plaintext) or `https://…`.
    public static func bootstrap(serviceName: String, endpoint: String, logger: Logger) throws -> any Service {
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.protocol = .grpc
        configuration.traces.otlpExporter.endpoint = endpoint
        configuration.propagators = [.traceContext]
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        InstrumentationSystem.bootstrap(backend.factory)
        logger.info("tracing: exporting spans over OTLP/gRPC", metadata: ["endpoint": "\(endpoint)", "service": "\(serviceName)"])
        return backend.service
    }
}
