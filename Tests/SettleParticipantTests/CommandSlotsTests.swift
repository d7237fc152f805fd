import Synchronization
import Testing

@testable import SettleParticipant

@Suite struct CommandSlotsTests {
    @Test func aReaderCancelledBeforeItWaitsForASlotDoesNotWaitForever() async throws {
        // A call whose writer is stuck (its caller reads no answers) has no slot left; when the
        // call is then cancelled, its reader must end, or the call and its admission leak.
        let slots = CommandSlots(1)
        try await slots.take()
        let ended = Flag()
        let reader = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            defer { ended.set() }
            try await slots.take()
        }
        #expect(await becomesTrue(ended, within: .seconds(5)), "the cancelled reader is still waiting for a slot")
        // Frees a reader that did wait, so that the test ends either way.
        slots.giveBack()
        await #expect(throws: CancellationError.self) { try await reader.value }
    }

    @Test func slotsGivenBackTogetherAreEachTakenOnce() async throws {
        let slots = CommandSlots(3)
        for _ in 0..<3 { try await slots.take() }
        async let fourth: Void = slots.take()
        try await Task.sleep(for: .milliseconds(20))
        slots.giveBack(3)
        try await fourth
        // Two of the three given back are left: two more takes succeed at once, a third waits.
        try await slots.take()
        try await slots.take()
        let tookThird = Flag()
        let third = Task {
            try await slots.take()
            tookThird.set()
        }
        #expect(await !becomesTrue(tookThird, within: .milliseconds(200)), "a slot was taken that was never given back")
        third.cancel()
        slots.giveBack()
        _ = try? await third.value
    }

    private func becomesTrue(_ flag: Flag, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if flag.isSet { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return flag.isSet
    }
}

private final class Flag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
