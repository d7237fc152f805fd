import GRPCNIOTransportHTTP2
import NIOCore
import Synchronization

/// Bounds on what callers can make a gRPC server hold: connections, streams per connection,
/// message size and idle connections. settled's API and the participant server apply them.
public struct ServerLimits: Sendable {
    /// Open connections at most; the next one is closed as soon as it is accepted.
    public var connectionsMax: Int
    /// Concurrent calls (HTTP/2 streams) per connection.
    public var concurrentCallsPerConnectionMax: Int
    /// Largest request message, refused before it is read.
    public var messageBytesMax: Int
    /// A connection with no call for this long is closed.
    public var idleTimeout: Duration

    public init(connectionsMax: Int, concurrentCallsPerConnectionMax: Int, messageBytesMax: Int, idleTimeout: Duration) {
        self.connectionsMax = connectionsMax
        self.concurrentCallsPerConnectionMax = concurrentCallsPerConnectionMax
        self.messageBytesMax = messageBytesMax
        self.idleTimeout = idleTimeout
    }

    /// `config` with these limits; `onRefused` is told of each connection closed for the cap.
    public func applied(
        to config: HTTP2ServerTransport.Posix.Config, onRefused: @escaping @Sendable () -> Void = {}
    ) -> HTTP2ServerTransport.Posix.Config {
        var config = config
        config.rpc.maxRequestPayloadSize = messageBytesMax
        config.http2.maxConcurrentStreams = concurrentCallsPerConnectionMax
        config.connection.maxIdleTime = idleTimeout
        let gate = ConnectionGate(max: connectionsMax, onRefused: onRefused)
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in gate.admit(channel) }
        return config
    }
}

/// Counts open connections; one beyond the cap fails its set-up, which closes it.
final class ConnectionGate: Sendable {
    private let open = Atomic<Int>(0)
    private let max: Int
    private let onRefused: @Sendable () -> Void

    init(max: Int, onRefused: @escaping @Sendable () -> Void) {
        self.max = max
        self.onRefused = onRefused
    }

    var openCount: Int { open.load(ordering: .relaxed) }

    func admit(_ channel: any Channel) -> EventLoopFuture<Void> {
        let count = open.wrappingAdd(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { [self] _ in open.wrappingSubtract(1, ordering: .relaxed) }
        guard count <= max else {
            onRefused()
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ConnectionLimitReached(limit: max))
        }
        return channel.eventLoop.makeSucceededVoidFuture()
    }
}

struct ConnectionLimitReached: Error, CustomStringConvertible {
    let limit: Int
    var description: String { "\(limit) connections are open; this one was closed" }
}
