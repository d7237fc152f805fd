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
        var caller = ServiceContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.metadata, into: &caller, using: MetadataExtractor())
        return try await withSpan(context.descriptor.fullyQualifiedMethod, context: caller, ofKind: .server) { span in
            span.attributes["rpc.system"] = "grpc"
            return try await next(request, context)
        }
    }
}

struct MetadataInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout Metadata) {
        carrier.replaceOrAddString(value, forKey: key)
    }
}

struct MetadataExtractor: Extractor {
    func extract(key: String, from carrier: Metadata) -> String? {
        carrier[stringValues: key].first { _ in true }
    }
}
