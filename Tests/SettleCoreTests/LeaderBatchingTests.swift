import SettleCore
import Synchronization
import Testing

@Suite struct LeaderBatchingTests {
    struct Refused: Error {}

    @Test func concurrentCallersShareBatchesAndEachGetsItsOwnOutput() async throws {
        let batching = LeaderBatching<Int, Int>(batchItemsMax: 64, gathersFirst: true) { items in
            // Long enough that callers pile up behind the batch in flight.
            try await Task.sleep(for: .milliseconds(2))
            return items.map { $0 * 10 }
        }
        let outputs = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for item in 0..<200 { group.addTask { (item, try await batching.submit(item)) } }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(outputs.count == 200)
        #expect(outputs.allSatisfy { $0.value == $0.key * 10 }, "every caller gets the output of its own item")
        #expect(batching.items.load(ordering: .relaxed) == 200)
        let batches = batching.batches.load(ordering: .relaxed)
        #expect(batches < 200, "callers that arrive while a batch is in flight share the next (\(batches) batches)")
        #expect(batches >= 200 / 64, "no batch holds more than batchItemsMax")
    }

    @Test func aFailedBatchFailsEveryItemInItAndTheLeadPassesOn() async throws {
        let failing = Atomic(true)
        let batching = LeaderBatching<Int, Int>(batchItemsMax: 256) { items in
            try await Task.sleep(for: .milliseconds(20))
            if failing.load(ordering: .relaxed) { throw Refused() }
            return items
        }
        // The first caller leads and sleeps; the other 49 wait for the next batch, which fails too.
        let failures = await withTaskGroup(of: Bool.self) { group in
            for item in 0..<50 {
                group.addTask {
                    do {
                        _ = try await batching.submit(item)
                        return false
                    } catch { return error is Refused }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 50)
        failing.store(false, ordering: .relaxed)
        #expect(try await batching.submit(7) == 7, "the lead was handed back: a later caller is served")
    }

    @Test func workThatAnswersTheWrongNumberOfOutputsFailsItsCallersWithoutTrapping() async throws {
        let batching = LeaderBatching<Int, Int>(batchItemsMax: 8) { _ in [] }
        await #expect(throws: BatchOutputMismatch.self) { try await batching.submit(1) }
    }

    @Test func aLoneCallerIsAnsweredAloneAtOnce() async throws {
        let batching = LeaderBatching<String, Int>(batchItemsMax: 8, gathersFirst: true) { $0.map(\.count) }
        #expect(try await batching.submit("abc") == 3)
        #expect(batching.batches.load(ordering: .relaxed) == 1)
    }
}
