import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// What `/healthz` says: `active` (200) while serving; `standby` (waiting for the coordinator
/// id's lease), `recovering` or `draining` (503) otherwise, so a load balancer routes clients
/// only to the daemon that serves.
struct Health: Sendable {
    let isServing: Bool
    let state: String
}

/// `/metrics` (Prometheus text) and `/healthz` over plain HTTP/1.1, one response per connection.
/// Open connections are capped and a connection that sends nothing for `idleTimeout` is closed,
/// so scrapers, health checks or anyone else who can reach it cannot pile up sockets.
struct MetricsHTTPServer: Sendable {
    let host: String
    let port: Int
    let renderMetrics: @Sendable () -> [UInt8]
    /// What `/healthz` answers: 200 only while this daemon serves transfers.
    let health: @Sendable () -> Health
    var connectionsMax = 64
    var idleTimeout: TimeAmount = .seconds(10)

    /// Serves until the task is cancelled; `bound` receives the listening port.
    func run(bound: @Sendable (Int) -> Void) async throws {
        let renderMetrics = self.renderMetrics
        let health = self.health
        let (connectionsMax, idleTimeout) = (self.connectionsMax, self.idleTimeout)
        let open = OpenConnections()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard open.admit(channel, max: connectionsMax) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(CloseWhenIdle())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(renderMetrics: renderMetrics, health: health)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        bound(channel.localAddress?.port ?? port)
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }
}

/// Open connections, counted down as each closes.
private final class OpenConnections: Sendable {
    private let count = Atomic<Int>(0)

    func admit(_ channel: any Channel, max: Int) -> Bool {
        guard count.wrappingAdd(1, ordering: .relaxed).newValue <= max else {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        channel.closeFuture.whenComplete { [self] _ in count.wrappingSubtract(1, ordering: .relaxed) }
        return true
    }
}

private final class CloseWhenIdle: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let renderMetrics: @Sendable () -> [UInt8]
    private let health: @Sendable () -> Health
    private var path = ""

    init(renderMetrics: @escaping @Sendable () -> [UInt8], health: @escaping @Sendable () -> Health) {
        self.renderMetrics = renderMetrics
        self.health = health
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = String(head.uri.prefix { $0 != "?" })
        case .body:
            break
        case .end:
            let (status, body, type): (HTTPResponseStatus, [UInt8], String)
            switch path {
            case "/metrics":
                (status, body, type) = (.ok, renderMetrics(), "text/plain; version=0.0.4")
            case "/healthz":
                let health = health()
                (status, body, type) = (health.isServing ? .ok : .serviceUnavailable, Array("\(health.state)\n".utf8), "text/plain")
            default:
                (status, body, type) = (.notFound, Array("not found; try /metrics or /healthz\n".utf8), "text/plain")
            }
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: type)
            headers.add(name: "content-length", value: String(body.count))
            headers.add(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
