import SettleCore
import Testing
@testable import SettleClient

/// The scale-out routing rule is a contract between every client of several coordinator ids:
/// these values are the documented rule's (README, "Scale-out"), and must never change.
@Suite struct CoordinatorRouterTests {
    func router(_ count: Int) throws -> CoordinatorRouter {
        CoordinatorRouter(coordinators: try (0..<count).map { [try HostPort(parsing: "127.0.0.1:\(7100 + $0)")] })
    }

    @Test func theHashIsFNV1a64() {
        // The published FNV-1a test vectors.
        #expect(CoordinatorRouter.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(CoordinatorRouter.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(CoordinatorRouter.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func theBucketIsJumpConsistentHashing() {
        // The reference implementation's vectors (github.com/dgryski/go-jump).
        #expect(CoordinatorRouter.jumpConsistentHash(1, buckets: 1) == 0)
        #expect(CoordinatorRouter.jumpConsistentHash(42, buckets: 57) == 43)
        #expect(CoordinatorRouter.jumpConsistentHash(0xDEAD_10CC, buckets: 666) == 361)
        #expect(CoordinatorRouter.jumpConsistentHash(256, buckets: 1024) == 520)
    }

    @Test func routingIsStableAndSpreadsEvenly() throws {
        let three = try router(3)
        #expect(["order-1", "order-2", "order-3", "order-42"].map { three.index(forTransfer: $0) } == [1, 0, 2, 0])
        var counts = [0, 0, 0]
        for number in 0..<30_000 { counts[three.index(forTransfer: "transfer-\(number)")] += 1 }
        #expect(counts.allSatisfy { (9_500...10_500).contains($0) }, "\(counts)")
    }

    @Test func addingACoordinatorMovesTransfersOnlyToIt() throws {
        let (three, four) = (try router(3), try router(4))
        var moved = 0
        for number in 0..<10_000 {
            let id = "transfer-\(number)"
            let (before, after) = (three.index(forTransfer: id), four.index(forTransfer: id))
            if before != after {
                #expect(after == 3, "\(id) moved from \(before) to \(after), not to the new coordinator")
                moved += 1
            }
        }
        #expect((2_200...2_800).contains(moved), "about a quarter moves: \(moved)")
    }
}
