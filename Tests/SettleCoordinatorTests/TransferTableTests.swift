import Foundation
import SettleCore
import Testing
@testable import SettleCoordinator

@Suite("transfer table: idempotency, capacity, paging, memory bound")
struct TransferTableTests {
    func spec(_ id: String, amount: Int = 1) -> TransferSpec {
        TransferSpec(id: id, branches: [.init(participant: "bank-a", action: "debit", payload: Data("\(amount)".utf8))])
    }

    func admit(_ table: TransferTable, _ spec: TransferSpec, at time: Int64, recordBytes: Int = 100) -> TransferTable.AdmitResult {
        var entry = TransferEntry(spec: spec, admission: Admission.random(), submittedAtMilliseconds: time)
        entry.acceptedRecordBytes = recordBytes
        return table.admit(entry)
    }

    func facts(_ status: TransferStatus, at time: Int64) -> FinalFacts {
        FinalFacts(status: status, path: "2pc", reason: "", finishedAtMilliseconds: time, branchStates: [status.rawValue])
    }

    @Test func admissionIsIdempotentAndBounded() {
        let table = TransferTable(inFlightMax: 2, rememberedMax: 10)
        guard case .admitted = admit(table, spec("a"), at: 1) else { Issue.record("a"); return }
        guard case .existing = admit(table, spec("a"), at: 2) else { Issue.record("same body"); return }
        guard case .conflict(_, let message) = admit(table, spec("a", amount: 2), at: 3) else {
            Issue.record("different body")
            return
        }
        #expect(message.contains("different branch 0"))
        guard case .admitted = admit(table, spec("b"), at: 4) else { Issue.record("b"); return }
        guard case .full = admit(table, spec("c"), at: 5) else { Issue.record("capacity"); return }
        table.finish("a", facts(.committed, at: 6))
        guard case .admitted = admit(table, spec("c"), at: 7) else { Issue.record("freed"); return }
        #expect(table.inFlightCount == 2)
    }

    @Test func listingPagesNewestFirstWithoutGapsOrRepeats() {
        let table = TransferTable(inFlightMax: 100, rememberedMax: 100)
        for index in 0..<25 { _ = admit(table, spec("t\(index)"), at: Int64(1000 + index / 2)) }
        for index in stride(from: 0, to: 25, by: 3) {
            table.finish("t\(index)", facts(.aborted, at: 2000))
        }
        var seen: [String] = []
        var token: String?
        repeat {
            let page = table.list(statuses: [], fromMilliseconds: nil, toMilliseconds: nil, pageSize: 4, after: token)
            #expect(page.entries.count <= 4)
            seen += page.entries.map(\.spec.id)
            token = page.nextToken
        } while token != nil
        #expect(seen.count == 25 && Set(seen).count == 25)
        let times = seen.map { id in table.entry(id)!.submittedAtMilliseconds }
        #expect(times == times.sorted(by: >))
        let aborted = table.list(statuses: [.aborted], fromMilliseconds: nil, toMilliseconds: nil, pageSize: 100, after: nil)
        #expect(Set(aborted.entries.map(\.spec.id)) == Set(stride(from: 0, to: 25, by: 3).map { "t\($0)" }))
        let window = table.list(statuses: [], fromMilliseconds: 1002, toMilliseconds: 1004, pageSize: 100, after: nil)
        #expect(Set(window.entries.map(\.spec.id)) == ["t4", "t5", "t6", "t7"])
    }

    @Test func finishedTransfersBeyondTheBoundAreForgottenOldestFirst() {
        let table = TransferTable(inFlightMax: 100, rememberedMax: 3)
        for index in 0..<5 {
            _ = admit(table, spec("t\(index)"), at: Int64(index))
            table.finish("t\(index)", facts(.committed, at: Int64(index)))
        }
        #expect(table.entry("t0") == nil && table.entry("t1") == nil)
        #expect(table.entry("t2") != nil && table.entry("t4") != nil)
    }

    @Test(.timeLimit(.minutes(1))) func waitersWakeWhenTheTransferFinishes() async {
        let table = TransferTable(inFlightMax: 10, rememberedMax: 10)
        _ = admit(table, spec("w"), at: 1)
        async let waited: Void = table.waitUntilFinal("w")
        // Finish only once the waiter is suspended: finishing first would test nothing.
        while table.waiterCount("w") == 0 { await Task.yield() }
        table.finish("w", facts(.committed, at: 2))
        await waited
        #expect(table.entry("w")?.status == .committed)
    }

    @Test func aStuckTransferIsNeverForgottenUntilResolved() {
        let table = TransferTable(inFlightMax: 100, rememberedMax: 2)
        _ = admit(table, spec("stuck"), at: 0)
        table.finish("stuck", facts(.stuck, at: 1))
        for index in 0..<10 {
            _ = admit(table, spec("t\(index)"), at: Int64(index + 2))
            table.finish("t\(index)", facts(.committed, at: Int64(index + 2)))
        }
        #expect(table.entry("stuck")?.status == .stuck, "ten later transfers finished; the stuck one is still there")
        guard
            case .claimed(let claimed) = table.claimResolution(
                "stuck", ResolutionProposal(outcome: .compensated, reason: "r", operator: "alice"), approving: false)
        else {
            Issue.record("claim")
            return
        }
        let resolved = table.resolve(
            "stuck", facts(.stuck, at: 1).resolved(as: .compensated, by: "alice", reason: "r", atMilliseconds: 20), decisionLSN: 9)
        #expect(resolved?.status == .compensated && resolved?.resolvedBy == "alice" && claimed.status == .stuck)
        for index in 10..<13 {
            _ = admit(table, spec("t\(index)"), at: Int64(index + 20))
            table.finish("t\(index)", facts(.committed, at: Int64(index + 20)))
        }
        #expect(table.entry("stuck") == nil, "once resolved it is forgotten like any finished transfer")
    }

    @Test func onlyTheFirstOfTwoResolutionsClaimsAStuckTransfer() {
        let table = TransferTable(inFlightMax: 10, rememberedMax: 10)
        _ = admit(table, spec("s"), at: 0)
        guard
            case .refused(let notStuck) = table.claimResolution(
                "s", ResolutionProposal(outcome: .committed, reason: "r", operator: "bob"), approving: false)
        else {
            Issue.record("an unfinished transfer cannot be resolved")
            return
        }
        #expect(notStuck.contains("is preparing"))
        table.finish("s", facts(.stuck, at: 1))
        guard case .claimed = table.claimResolution("s", ResolutionProposal(outcome: .committed, reason: "r", operator: "alice"), approving: false)
        else { Issue.record("first"); return }
        guard
            case .refused(let second) = table.claimResolution(
                "s", ResolutionProposal(outcome: .aborted, reason: "r", operator: "bob"), approving: false)
        else {
            Issue.record("second")
            return
        }
        #expect(second.contains("already being resolved: committed by alice"))
        _ = table.resolve("s", facts(.stuck, at: 1).resolved(as: .committed, by: "alice", reason: "r", atMilliseconds: 2), decisionLSN: 9)
        guard
            case .refused(let third) = table.claimResolution(
                "s", ResolutionProposal(outcome: .aborted, reason: "r", operator: "bob"), approving: false)
        else { Issue.record("third"); return }
        #expect(third.contains("is committed (resolved by alice)"))
        guard case .notFound = table.claimResolution("nobody", ResolutionProposal(outcome: .aborted, reason: "r", operator: "bob"), approving: false)
        else { Issue.record("unknown"); return }
    }

    @Test func unfinishedAcceptedRecordsAreBoundedByTheCheckpointBudget() {
        let table = TransferTable(inFlightMax: 100, rememberedMax: 10, unfinishedRecordBytesMax: 1000)
        guard case .admitted = admit(table, spec("a"), at: 0, recordBytes: 600) else { Issue.record("a"); return }
        guard case .full(let why) = admit(table, spec("b"), at: 1, recordBytes: 500) else { Issue.record("b"); return }
        #expect(why.contains("600 of 1000 bytes"))
        table.finish("a", facts(.stuck, at: 2))
        guard case .full = admit(table, spec("b"), at: 3, recordBytes: 500) else {
            Issue.record("a stuck transfer still travels in every checkpoint")
            return
        }
        _ = table.claimResolution("a", ResolutionProposal(outcome: .aborted, reason: "r", operator: "alice"), approving: false)
        _ = table.resolve("a", facts(.stuck, at: 2).resolved(as: .aborted, by: "alice", reason: "r", atMilliseconds: 4), decisionLSN: 9)
        guard case .admitted = admit(table, spec("b"), at: 5, recordBytes: 500) else { Issue.record("freed"); return }
    }
}
