import Foundation
import SettleTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The metrics listener caps its open connections: sockets that send nothing cannot exhaust it,
/// and once they close (or idle out) it serves again.
@Suite("metrics listener limits", .timeLimit(.minutes(3)))
struct MetricsLimitsTests {
    func connect(_ port: Int) -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected == 0 ? socket : -1
    }

    @Test func silentConnectionsBeyondTheCapCannotStopScrapes() async throws {
        try await withDeployment { deployment throws in
            let silent = (0..<64).map { _ in connect(deployment.metricsPort) }
            #expect(silent.allSatisfy { $0 >= 0 })
            try await Task.sleep(for: .milliseconds(300))
            let starved = await #expect(throws: (any Error).self) { _ = try await deployment.metrics() }
            #expect(starved != nil, "the 65th connection is closed at once")
            for socket in silent { close(socket) }
            try await waitUntil(timeout: .seconds(10), "scrapes are served again") { (try? await deployment.metrics()) != nil }
        }
    }
}
