import Foundation
import SettleCore
import SettleTestSupport
import SignedLog
import Testing
@testable import SettleCoordinator

@Suite("coordinator records and the journal")
struct JournalTests {
    let spec = TransferSpec(
        id: "t-1", branches: [.init(participant: "bank-a", action: "debit", payload: Data(#"{"amount":5}"#.utf8))]
    )

    let admission = try! Admission(epoch: 1, nonce: 0x1234)
    let facts = FinalFacts(
        status: .committed, path: "saga", reason: "", finishedAtMilliseconds: 1_795_000_000_100,
        branchStates: ["committed"], resolvedBy: nil
    )

    @Test func everyRecordRoundTripsThroughTheLog() throws {
        let stuck = FinalFacts(
            status: .stuck, path: "saga", reason: "refund keeps failing", finishedAtMilliseconds: 1_795_000_000_200,
            branchStates: ["compensating"], resolvedBy: nil
        )
        let records: [CoordinatorRecord] = [
            .accepted(spec, admission: admission, submittedAtMilliseconds: 1_795_000_000_000),
            .commit(transferID: "t-1"),
            .abort(transferID: "t-1", reason: "branch 0 refused: no funds"),
            .end(transferID: "t-1", outcome: .committed, facts: facts),
            .end(transferID: "t-1", outcome: .aborted, facts: nil),
            .heuristic(transferID: "t-1", branch: 0, reason: "re-drive refused"),
            .saga(transferID: "t-1"),
            .compensate(transferID: "t-1", reason: "saga deadline passed"),
            .end(transferID: "t-1", outcome: .compensated, facts: nil),
            .stuck(transferID: "t-1", reason: "refund keeps failing", facts: stuck),
            .manual(transferID: "t-1", outcome: .compensated, reason: "refunded by hand", operator: "alice", finishedAtMilliseconds: 9),
        ]
        for record in records {
            let entry = record.entry()
            let stored = LogRecord(
                lsn: 7, type: entry.type, appendedAtNanoseconds: 0, payload: entry.payload,
                chainHash: SHA256Digest(hashing: [UInt8]())
            )
            #expect(try CoordinatorRecord(stored) == record)
            #expect(String(validating: entry.payload, as: UTF8.self)?.hasPrefix("{") == true, "payloads are JSON")
        }
        let checkpoint = LogRecord(lsn: 1, type: .checkpoint, appendedAtNanoseconds: 0, payload: [], chainHash: SHA256Digest(hashing: [UInt8]()))
        #expect(try CoordinatorRecord(checkpoint) == nil)
    }

    /// Recovery from a checkpoint plus the records after it sees exactly what recovery from the
    /// whole log sees.
    @Test func aCheckpointDescribesExactlyTheRecordsBeforeIt() async throws {
        let directory = try TemporaryDirectory()
        let key = try SigningKey.generate()
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: key)
        let journal = Journal(log: log, rememberedMax: 100)
        for index in 0..<5 {
            var transfer = spec
            transfer.id = "t-\(index)"
            try await journal.append(.accepted(transfer, admission: Admission.random(), submittedAtMilliseconds: Int64(index)))
        }
        try await journal.append(.commit(transferID: "t-0"))
        try await journal.append(.end(transferID: "t-0", outcome: .committed, facts: facts))
        try await journal.append(.abort(transferID: "t-1", reason: "refused"))
        try await journal.append(.stuck(transferID: "t-4", reason: "refund keeps failing", facts: nil))
        _ = try await journal.appendCheckpoint()
        try await journal.append(.commit(transferID: "t-2"))
        try await journal.append(.end(transferID: "t-1", outcome: .aborted, facts: nil))

        let (checkpoint, afterCheckpoint) = try await log.recoveryRecords()
        #expect(checkpoint != nil)
        #expect(afterCheckpoint.count == 2, "recovery reads only what follows the checkpoint")
        let fromCheckpoint = try Journal(log: log, rememberedMax: 100).recover(checkpoint: checkpoint, records: afterCheckpoint)
        let fromStart = try Journal(log: log, rememberedMax: 100).recover(checkpoint: nil, records: try await log.records(from: .first))
        #expect(fromCheckpoint.sorted { $0.spec.id < $1.spec.id } == fromStart.sorted { $0.spec.id < $1.spec.id })
        let byID = Dictionary(uniqueKeysWithValues: fromCheckpoint.map { ($0.spec.id, $0) })
        #expect(byID["t-0"]?.final == .committed)
        #expect(byID["t-0"]?.facts == facts, "the sealed facts of an ending survive a checkpoint")
        #expect(byID["t-1"]?.final == .aborted)
        #expect(byID["t-2"]?.decision == .commit)
        // Checkpoints written before the decision was an enum stored the same string.
        let stored = try #require(byID["t-2"].map { try JSONEncoder().encode($0) })
        #expect(String(decoding: stored, as: UTF8.self).contains(#""decision":"commit""#))
        #expect(byID["t-3"]?.decision == nil)
        #expect(byID["t-4"]?.final == .stuck, "a stuck transfer survives every checkpoint")
        await log.close()
    }

    /// A checkpoint keeps every unfinished and stuck transfer, then finished ones newest first
    /// while they fit its byte budget; the oldest finished ones are left out, never an unfinished one.
    @Test func aCheckpointKeepsTheNewestFinishedTransfersWithinItsBudget() async throws {
        let directory = try TemporaryDirectory()
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: try SigningKey.generate())
        let journal = Journal(log: log, rememberedMax: 1000, checkpointBytesBudget: 4096)
        for index in 0..<20 {
            var transfer = spec
            transfer.id = "done-\(index)"
            try await journal.append(.accepted(transfer, admission: Admission.random(), submittedAtMilliseconds: Int64(index)))
            try await journal.append(.end(transferID: transfer.id, outcome: .committed, facts: facts))
        }
        var open = spec
        open.id = "open"
        try await journal.append(.accepted(open, admission: Admission.random(), submittedAtMilliseconds: 99))
        _ = try await journal.appendCheckpoint()
        let (checkpoint, _) = try await log.recoveryRecords()
        let ids = try #require(checkpoint).unfinished.map(\.id)
        #expect(ids.first == "open", "the unfinished transfer comes first, whatever the budget")
        let kept = ids.dropFirst()
        #expect(!kept.isEmpty && kept.count < 20, "some finished ones fit, not all: \(kept.count)")
        #expect(Array(kept) == (0..<20).reversed().prefix(kept.count).map { "done-\($0)" }, "newest first: \(kept)")
        #expect(try #require(checkpoint).encoded().count <= 4096 + 64)
        await log.close()
    }

    /// Found by review: recovery restored finished transfers in dictionary order, so the table
    /// forgot a random set of them first and a client's retry of a recently finished id could be
    /// admitted again and move money twice. They come back in the order they finished.
    @Test func recoveryRemembersFinishedTransfersInTheOrderTheyFinished() async throws {
        let directory = try TemporaryDirectory()
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: try SigningKey.generate())
        let journal = Journal(log: log, rememberedMax: 100)
        func finish(_ index: Int) async throws {
            var transfer = spec
            transfer.id = "t-\(index)"
            let admission = Admission.random()
            try await journal.append(.accepted(transfer, admission: admission, submittedAtMilliseconds: 1000))
            var ended = facts
            ended.finishedAtMilliseconds = 2000 + Int64(index)
            ended.admission = admission
            try await journal.append(.end(transferID: transfer.id, outcome: .committed, facts: ended))
        }
        for index in 0..<10 { try await finish(index) }
        _ = try await journal.appendCheckpoint()
        for index in 10..<12 { try await finish(index) }
        let (checkpoint, records) = try await log.recoveryRecords()
        let recovered = try Journal(log: log, rememberedMax: 100).recover(checkpoint: checkpoint, records: records)
        #expect(recovered.map(\.spec.id) == (0..<12).map { "t-\($0)" })

        let table = TransferTable(inFlightMax: 10, rememberedMax: 5)
        for entry in recovered {
            var restored = TransferEntry(spec: entry.spec, admission: entry.admission, submittedAtMilliseconds: entry.submittedAtMilliseconds)
            if let facts = entry.facts { restored.apply(facts) }
            table.restore(restored)
        }
        var next = spec
        next.id = "after"
        _ = table.admit(TransferEntry(spec: next, admission: Admission.random(), submittedAtMilliseconds: 3000))
        table.finish("after", facts)
        let remembered = (0..<12).filter { table.entry("t-\($0)") != nil }
        #expect(remembered == [8, 9, 10, 11], "the newest are remembered, the oldest forgotten: \(remembered)")
        await log.close()
    }

    /// An earlier admission's END, sealed after its id was forgotten and admitted again, must not
    /// finish the new admission.
    @Test func anEarlierAdmissionsEndDoesNotFinishTheNewOne() async throws {
        let directory = try TemporaryDirectory()
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: try SigningKey.generate())
        let journal = Journal(log: log, rememberedMax: 100)
        let first = Admission.random()
        let second = Admission.random()
        try await journal.append(.accepted(spec, admission: first, submittedAtMilliseconds: 1))
        try await journal.append(.accepted(spec, admission: second, submittedAtMilliseconds: 2))
        var late = facts
        late.admission = first
        try await journal.append(.end(transferID: spec.id, outcome: .committed, facts: late))
        let (checkpoint, records) = try await log.recoveryRecords()
        let recovered = try Journal(log: log, rememberedMax: 100).recover(checkpoint: checkpoint, records: records)
        #expect(recovered.count == 1)
        #expect(recovered.first?.admission == second)
        #expect(recovered.first?.final == nil, "the second admission is still unfinished and will be resumed")
        await log.close()
    }
}
