import GRPCCore
import SettleCore

extension SettleClient {
    /// Runs `body` against whichever of `addresses` serves: the active settled of one coordinator
    /// id, whose standbys do not listen on the API port until they take over (README, "Running
    /// Settle with failover"). On UNAVAILABLE (refused, unreachable, or draining for a stop), the
    /// next address is tried, round after round with a short pause, until `retryFor` has passed.
    ///
    /// `body` may therefore run more than once, from the start: keep it idempotent, as Submit by
    /// transfer id, Get and List are.
    public static func withFailover<Result: Sendable>(
        addresses: [HostPort], token: String, tls: TLS? = nil, retryFor: Duration = .seconds(30),
        _ body: (SettleClient) async throws -> Result
    ) async throws -> Result {
        precondition(!addresses.isEmpty, "withFailover needs at least one address")
        let deadline = ContinuousClock.now + retryFor
        var pause = Duration.milliseconds(50)
        while true {
            var lastUnavailable: RPCError?
            for address in addresses {
                do {
                    return try await withClient(host: address.host, port: address.port, token: token, tls: tls, body)
                } catch let error as RPCError where error.code == .unavailable {
                    lastUnavailable = error
                }
            }
            guard ContinuousClock.now + pause < deadline else {
                throw lastUnavailable ?? RPCError(code: .unavailable, message: "no coordinator address answered")
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(1))
        }
    }
}

/// Which coordinator id serves a transfer, when several ids share the load (scale-out): a stable
/// rule every client applies the same way, so a transfer id always reaches the same coordinator
/// and its idempotency holds.
///
/// The rule (README, "Scale-out"): the 64-bit FNV-1a hash of the transfer id's UTF-8 bytes, fed
/// to jump consistent hashing (Lamping and Veach, 2014) with the number of coordinator ids, picks
/// the index into the configured list. Adding an id at the end moves only about 1/n of transfer
/// ids, and only to the new one; never reorder the list.
public struct CoordinatorRouter: Sendable {
    /// One entry per coordinator id: its active daemon and standbys.
    public let coordinators: [[HostPort]]

    public init(coordinators: [[HostPort]]) {
        precondition(!coordinators.isEmpty && coordinators.allSatisfy { !$0.isEmpty }, "every coordinator needs an address")
        self.coordinators = coordinators
    }

    public func index(forTransfer id: String) -> Int {
        Self.jumpConsistentHash(Self.fnv1a64(id), buckets: coordinators.count)
    }

    public func addresses(forTransfer id: String) -> [HostPort] { coordinators[index(forTransfer: id)] }

    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    static func jumpConsistentHash(_ key: UInt64, buckets: Int) -> Int {
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(Int64(1) << 31) / Double((key >> 33) + 1)))
        }
        return Int(bucket)
    }
}
