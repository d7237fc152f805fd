import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SettleProtocol
import SettleTestSupport
import Synchronization
import Testing

/// W3C trace context from a client through settled to both participants, and the spans of each
/// exported over OTLP/gRPC: a Submit that carries `traceparent` leaves spans with that trace id
/// from settled (its server span, the transfer, its calls to the participants) and from each
/// ExampleBank (the Prepare and Commit its action ran in) at a collector.
@Suite("tracing", .timeLimit(.minutes(3)))
struct TracingTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpanID = "00f067aa0ba902b7"

    @Test func aClientsTraceContinuesThroughSettledToEveryParticipant() async throws {
        let collector = FakeOTLPCollector()
        let server = GRPCServer(
            transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext), services: [collector]
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            let port = try await server.listeningAddress?.ipv4?.port ?? 0
            let endpoint = "http://127.0.0.1:\(port)"
            try await withDeployment(
                bankArguments: [["--otlp-endpoint", endpoint], ["--otlp-endpoint", endpoint]],
                configuration: ["tracingOTLPEndpoint": endpoint]
            ) { deployment throws in
                let transfer = try await Self.submitCarryingTraceContext(deployment)
                #expect(transfer.state == .committed)
                // The batch span processor sends every five seconds.
                try await waitUntil(timeout: .seconds(30), "spans of the client's trace from settled and both banks") {
                    let received = collector.received
                    return ["settled", "example-bank"].allSatisfy { service in
                        received.contains { $0.contains(Self.bytes(ofHex: Self.traceID)) && $0.contains(Array(service.utf8)) }
                    }
                }
                let ofTheTrace = collector.received.filter { $0.contains(Self.bytes(ofHex: Self.traceID)) }
                for name in [
                    "settle.v1.Coordinator/Submit", "settle.transfer", "settle.v1.Participant/Prepare", "settle.v1.Participant/Commit",
                ] {
                    #expect(ofTheTrace.contains { $0.contains(Array(name.utf8)) }, "a span named \(name) in the client's trace")
                }
                #expect(
                    ofTheTrace.contains { $0.contains(Self.bytes(ofHex: Self.callerSpanID)) },
                    "settled's server span names the client's span as its parent"
                )
                try await expectEveryInvariant(deployment)
            }
            server.beginGracefulShutdown()
        }
    }

    static func submitCarryingTraceContext(_ deployment: Deployment) async throws -> Settle_V1_Transfer {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: deployment.apiPort), transportSecurity: .plaintext)
        ) { client in
            var request = Settle_V1_SubmitRequest()
            request.transferID = "traced-1"
            request.wait = true
            request.branches = [
                .with {
                    $0.participant = "bank-a"
                    $0.action = "debit"
                    $0.payload = Data(#"{"account":"a5","amount":10}"#.utf8)
                },
                .with {
                    $0.participant = "bank-b"
                    $0.action = "credit"
                    $0.payload = Data(#"{"account":"b5","amount":10}"#.utf8)
                },
            ]
            let metadata: Metadata = [
                "authorization": "Bearer \(clientToken)", "traceparent": "00-\(traceID)-\(callerSpanID)-01",
            ]
            return try await Settle_V1_Coordinator.Client(wrapping: client).submit(request, metadata: metadata).transfer
        }
    }

    static func bytes(ofHex hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16) ?? 0
        }
    }
}

/// An OpenTelemetry collector's trace endpoint (opentelemetry.proto.collector.trace.v1.TraceService/
/// Export) that keeps each request's bytes and answers with an empty response: enough to see which
/// trace ids, span names and service names arrived, without the OTLP generated code.
final class FakeOTLPCollector: RegistrableRPCService, Sendable {
    private let requests = Mutex<[[UInt8]]>([])

    var received: [[UInt8]] { requests.withLock { $0 } }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService", method: "Export"),
            deserializer: RawBytes(), serializer: RawBytes()
        ) { request, _ in
            for try await message in request.messages { self.requests.withLock { $0.append(message) } }
            return StreamingServerResponse(single: ServerResponse(message: []))
        }
    }

    struct RawBytes: MessageSerializer, MessageDeserializer {
        func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
        func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
            serializedMessageBytes.withUnsafeBytes { Array($0) }
        }
    }
}

extension Array where Element == UInt8 {
    func contains(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { start in self[start..<(start + needle.count)].elementsEqual(needle) }
    }
}
