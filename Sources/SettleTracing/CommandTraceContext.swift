import Tracing

/// Trace context carried inside a message rather than in a call's metadata: the participant
/// protocol's `Branches` call carries many commands, each from its own transfer, so each command
/// holds its caller's `traceparent` and `tracestate`, and each gets the client and server spans
/// a unary call of its own would have had (named as that call, e.g. `settle.v1.Participant/Prepare`).
public struct CommandTraceContext: Sendable, Equatable {
    public var traceparent: String
    public var tracestate: String

    public init(traceparent: String = "", tracestate: String = "") {
        self.traceparent = traceparent
        self.tracestate = tracestate
    }

    /// Runs `body` in a client span named `name`, handing it the span's context to send.
    public static func withClientSpan<Result>(
        _ name: String, _ body: (CommandTraceContext) async throws -> Result
    ) async throws -> Result {
        try await withSpan(name, ofKind: .client) { span in
            span.attributes["rpc.system"] = "grpc"
            var carried = CommandTraceContext()
            if let spanContext = ServiceContext.current {
                InstrumentationSystem.instrument.inject(spanContext, into: &carried, using: Injector())
            }
            return try await body(carried)
        }
    }

    /// Runs `body` in a server span named `name` that continues the carried trace, with the
    /// metadata's limits (`TraceHeaders`).
    public func withServerSpan<Result>(_ name: String, _ body: () async throws -> Result) async throws -> Result {
        // Empty fields mean none here, as an absent header does in metadata.
        try await TraceHeaders { header in
            let value =
                switch header {
                case "traceparent": traceparent
                case "tracestate": tracestate
                default: ""
                }
            return value.isEmpty ? nil : value
        }.withServerSpan(name, body)
    }

    struct Injector: Tracing.Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout CommandTraceContext) {
            switch key.lowercased() {
            case "traceparent": carrier.traceparent = value
            case "tracestate": carrier.tracestate = value
            default: break
            }
        }
    }
}
