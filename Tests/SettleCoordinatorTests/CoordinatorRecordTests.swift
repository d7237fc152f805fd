import Foundation
import SettleCore
import SettleTestSupport
import SignedLog
import Testing
@testable import SettleCoordinator

@Suite("coordinator records")
struct CoordinatorRecordTests {
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
            .saga(transferID: "t-1", deadlineAtMilliseconds: 1_800_000_060_000),
            .saga(transferID: "t-1", deadlineAtMilliseconds: nil),
            .compensate(transferID: "t-1", reason: "saga deadline passed"),
            .end(transferID: "t-1", outcome: .compensated, facts: nil),
            .stuck(transferID: "t-1", reason: "refund keeps failing", facts: stuck),
            .manual(transferID: "t-1", outcome: .compensated, reason: "refunded by hand", operator: "alice", finishedAtMilliseconds: 9),
            .proposed(transferID: "t-1", outcome: .aborted, reason: "never posted", operator: "alice"),
            .rejected(transferID: "t-1", reason: "it was posted", operator: "bob"),
            .retry(transferID: "t-1", operator: "bob"),
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
}
