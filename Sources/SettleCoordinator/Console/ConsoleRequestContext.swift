import Hummingbird
import NIOCore

/// Hummingbird's request context plus the connection, whose TLS handshake names the client
/// certificate a certificate login presents.
struct ConsoleRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
