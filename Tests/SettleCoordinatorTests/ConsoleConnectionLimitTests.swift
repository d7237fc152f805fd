import Foundation
import SettleTestSupport
import Testing

/// The console serves at most 64 connections. Without a limit per address, one client holding 64
/// idle keep-alive connections (no login needed) kept every operator out, during an incident too.
@Suite("console connections per address", .timeLimit(.minutes(3)))
struct ConsoleConnectionLimitTests {
    /// Opens connections from one address and holds them; prints how many the console kept, then
    /// whether the console still answers once one of them is let go.
    static let client = #"""
        import socket, sys, time
        port, count = int(sys.argv[1]), int(sys.argv[2])
        held = []
        for _ in range(count):
            connection = socket.create_connection(("127.0.0.1", port))
            connection.settimeout(0.5)
            held.append(connection)
        time.sleep(1)
        kept = 0
        for connection in held:
            try:
                kept += 0 if connection.recv(1) == b"" else 1
            except (socket.timeout, TimeoutError):
                kept += 1
            except OSError:
                pass
        for connection in held[:1]:
            connection.close()
        time.sleep(0.5)
        another = socket.create_connection(("127.0.0.1", port))
        another.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        another.settimeout(5)
        status = another.recv(64).split(b"\r\n")[0].decode()
        print(kept, status)
        """#

    @Test func oneAddressCannotHoldEveryConnection() async throws {
        try await withDeployment { deployment throws in
            let finished = try runExecutable(at: "/usr/bin/env", ["python3", "-c", Self.client, "\(deployment.consolePort)", "64"])
            #expect(finished.status == 0, "\(finished.errorOutput)")
            // 16 of the 64 kept open; with one let go, the console answers a new connection.
            #expect(finished.output.trimmingCharacters(in: .whitespacesAndNewlines) == "16 HTTP/1.1 200 OK")
        }
    }
}
