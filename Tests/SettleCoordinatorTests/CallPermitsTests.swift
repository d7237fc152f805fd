import Synchronization
import Testing

@testable import SettleCoordinator

/// The bound on calls outstanding to one participant: never more than the limit at once, waiters
/// served first come first served, and a cancelled waiter leaves without taking a permit.
@Suite("call permits", .timeLimit(.minutes(1)))
struct CallPermitsTests {
    /// Holders that stay inside their permits until released, recording the order they entered.
    final class Holders: Sendable {
        let entered = Mutex<[Int]>([])
        let inside = Mutex<(now: Int, most: Int)>((0, 0))
        let gates = Mutex<[Int: CheckedContinuation<Void, Never>]>([:])

        func hold(_ caller: Int) async {
            entered.withLock { $0.append(caller) }
            inside.withLock { $0 = ($0.now + 1, max($0.most, $0.now + 1)) }
            await withCheckedContinuation { continuation in gates.withLock { $0[caller] = continuation } }
            inside.withLock { $0.now -= 1 }
        }

        func release(_ caller: Int) async {
            while true {
                if let gate = gates.withLock({ $0.removeValue(forKey: caller) }) { return gate.resume() }
                await Task.yield()
            }
        }

        func waitUntilEntered(_ count: Int) async {
            while entered.withLock({ $0.count }) < count { await Task.yield() }
        }
    }

    @Test func atMostTheLimitRunAtOnceAndWaitersGoInTheOrderTheyCame() async throws {
        let permits = CallPermits(limit: 2)
        let holders = Holders()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<2 { group.addTask { try await permits.withPermit { await holders.hold(caller) } } }
            await holders.waitUntilEntered(2)
            // Queued one at a time, so their order is known.
            for caller in 2..<5 {
                group.addTask { try await permits.withPermit { await holders.hold(caller) } }
                while permits.waiting < caller - 1 { await Task.yield() }
            }
            #expect(holders.entered.withLock { $0 } == [0, 1])
            for caller in 0..<5 {
                await holders.release(caller)
                if caller + 2 < 5 { await holders.waitUntilEntered(caller + 3) }
            }
            try await group.waitForAll()
        }
        #expect(holders.entered.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(holders.inside.withLock { $0.most } == 2)
        #expect(permits.waiting == 0)
    }

    @Test func aCancelledWaiterLeavesWithoutTakingAPermit() async throws {
        let permits = CallPermits(limit: 1)
        let holders = Holders()
        let first = Task { try await permits.withPermit { await holders.hold(0) } }
        await holders.waitUntilEntered(1)
        let cancelled = Task { try await permits.withPermit { await holders.hold(1) } }
        while permits.waiting < 1 { await Task.yield() }
        let next = Task { try await permits.withPermit { await holders.hold(2) } }
        while permits.waiting < 2 { await Task.yield() }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(permits.waiting == 1)
        await holders.release(0)
        try await first.value
        await holders.waitUntilEntered(2)
        #expect(holders.entered.withLock { $0 } == [0, 2])
        await holders.release(2)
        try await next.value
        // Every permit came back: one more caller goes straight in.
        try await permits.withPermit {}
        #expect(permits.waiting == 0)
    }
}
