public import GRPCCore
import Tracing

/// W3C trace context over gRPC metadata (`traceparent`, `tracestate`), through whatever
/// instrument the process bootstrapped (swift-otel's W3C propagator in settled and ExampleBank
/// when tracing is configured). Without one, swift-distributed-tracing's no-op instrument injects
/// and extracts nothing, and the spans cost next to nothing.
///
/// The client side opens a client span for the call and sends its context; the server side
/// continues the caller's trace in a server span that the handler runs inside, so what the
/// handler does (a participant's action, its own `withSpan`s) joins the transfer's trace.
public struct ClientTraceContextInterceptor: ClientInterceptor {
    public init() {}

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingClientRequest<Input>,
        context: ClientContext,
        next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<Output>
    ) async throws -> StreamingClientResponse<Output> {
        try await withSpan(context.descriptor.fullyQualifiedMethod, ofKind: .client) { span in
            span.attributes["rpc.system"] = "grpc"
            var request = request
            if let spanContext = ServiceContext.current {
                InstrumentationSystem.instrument.inject(spanContext, into: &request.metadata, using: MetadataInjector())
            }
            return try await next(request, context)
        }
    }
}

public struct ServerTraceContextInterceptor: ServerInterceptor {
    public init() {}

    public func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>,
        context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        // Only the trace headers reach the instrument: a tracer that logs a carrier it cannot
        // parse must never see the call's authorization header.
        try await TraceHeaders(request.metadata).withServerSpan(context.descriptor.fullyQualifiedMethod) {
            try await next(request, context)
        }
    }
}

struct MetadataInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout Metadata) {
        carrier.replaceOrAddString(value, forKey: key)
    }
}

/// `traceparent` and `tracestate` from a call's metadata, nothing else, each cut at 512 bytes
/// (W3C allows tracestate 32 list members; a longer one is dropped rather than parsed).
struct TraceHeaders: Sendable {
    static let names = ["traceparent", "tracestate"]
    static let valueBytesMax = 512
    let values: [String: String]

    init(_ metadata: Metadata) {
        self.init { metadata[stringValues: $0].first(where: { _ in true }) }
    }

    /// `value(name)` for each of `names`; a missing or too long value is left out.
    init(_ value: (String) -> String?) {
        var values: [String: String] = [:]
        for name in Self.names {
            if let value = value(name), value.utf8.count <= Self.valueBytesMax {
                values[name] = value
            }
        }
        self.values = values
    }

    /// Runs `body` in a server span named `name` that continues the caller's trace.
    func withServerSpan<Result>(_ name: String, _ body: () async throws -> Result) async throws -> Result {
        var caller = ServiceContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(self, into: &caller, using: Extractor())
        return try await withSpan(name, context: caller, ofKind: .server) { span in
            span.attributes["rpc.system"] = "grpc"
            return try await body()
        }
    }

    struct Extractor: Tracing.Extractor {
        func extract(key: String, from carrier: TraceHeaders) -> String? { carrier.values[key.lowercased()] }
    }
}
