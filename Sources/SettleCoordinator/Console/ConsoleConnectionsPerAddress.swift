import NIOCore
import Synchronization

/// At most `limit` console connections from one address. The console's 64 connections are few
/// on purpose, and idle ones close after 30 s; without this, one client (no login needed) holding
/// 64 keep-alive connections, each refreshed every 25 s, kept every operator out. A browser opens
/// about six connections to a host, so 16 leaves room for a few operators behind one address
/// (a proxy, or an SSH tunnel to a loopback console).
final class ConsoleConnectionsPerAddress: Sendable {
    let limit: Int
    private let open = Mutex<[String: Int]>([:])

    init(limit: Int) { self.limit = limit }

    /// A new connection's handler, which closes the connection at once when its address already
    /// holds `limit`.
    func handler() -> Handler { Handler(counter: self) }

    fileprivate func admit(_ address: String) -> Bool {
        open.withLock { open in
            guard open[address, default: 0] < limit else { return false }
            open[address, default: 0] += 1
            return true
        }
    }

    fileprivate func release(_ address: String) {
        open.withLock { open in
            open[address, default: 1] -= 1
            if open[address] == 0 { open[address] = nil }
        }
    }

    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        /// It reads nothing: every part passes on as it came.
        typealias InboundIn = NIOAny

        private let counter: ConsoleConnectionsPerAddress
        /// Set once the connection is counted, so that only a counted one is released.
        private var address: String?

        fileprivate init(counter: ConsoleConnectionsPerAddress) { self.counter = counter }

        func handlerAdded(context: ChannelHandlerContext) {
            // An accepted connection already knows its peer; one that does not is not limited.
            guard let peer = context.channel.remoteAddress?.ipAddress else { return }
            if counter.admit(peer) {
                address = peer
            } else {
                context.close(promise: nil)
            }
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            if let address { counter.release(address) }
            address = nil
        }
    }
}
