import Foundation
import SettleCore
import Testing
@testable import SettleCoordinator

@Suite("transfer table: idempotency, capacity, paging, memory bound")
struct TransferTableTests {
    func spec(_ id: String, amount: Int = 1) -> TransferSpec {
        TransferSpec(id: id, branches: [.init(participant: "bank-a", action: "debit", payload: Data("\(amount)".utf8))])
    }

    @Test func admissionIsIdempotentAndBounded() {
        let table = TransferTable(inFlightMax: 2, rememberedMax: 10)
        guard case .admitted = table.admit(spec("a"), submittedAtMilliseconds: 1) else { Issue.record("a"); return }
        guard case .existing = table.admit(spec("a"), submittedAtMilliseconds: 2) else { Issue.record("same body"); return }
        guard case .conflict(let message) = table.admit(spec("a", amount: 2), submittedAtMilliseconds: 3) else {
            Issue.record("different body")
            return
        }
        #expect(message.contains("different branch 0"))
        guard case .admitted = table.admit(spec("b"), submittedAtMilliseconds: 4) else { Issue.record("b"); return }
        guard case .full = table.admit(spec("c"), submittedAtMilliseconds: 5) else { Issue.record("capacity"); return }
        table.finish("a", status: .committed, path: "2pc", reason: "", atMilliseconds: 6)
        guard case .admitted = table.admit(spec("c"), submittedAtMilliseconds: 7) else { Issue.record("freed"); return }
        #expect(table.inFlightCount == 2)
    }

    @Test func listingPagesNewestFirstWithoutGapsOrRepeats() {
        let table = TransferTable(inFlightMax: 100, rememberedMax: 100)
        for index in 0..<25 { _ = table.admit(spec("t\(index)"), submittedAtMilliseconds: Int64(1000 + index / 2)) }
        for index in stride(from: 0, to: 25, by: 3) {
            table.finish("t\(index)", status: .aborted, path: "2pc", reason: "no", atMilliseconds: 2000)
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
            _ = table.admit(spec("t\(index)"), submittedAtMilliseconds: Int64(index))
            table.finish("t\(index)", status: .committed, path: "2pc", reason: "", atMilliseconds: Int64(index))
        }
        #expect(table.entry("t0") == nil && table.entry("t1") == nil)
        #expect(table.entry("t2") != nil && table.entry("t4") != nil)
    }

    @Test func waitersWakeWhenTheTransferFinishes() async {
        let table = TransferTable(inFlightMax: 10, rememberedMax: 10)
        _ = table.admit(spec("w"), submittedAtMilliseconds: 1)
        async let waited: Void = table.waitUntilFinal("w")
        try? await Task.sleep(for: .milliseconds(50))
        table.finish("w", status: .committed, path: "2pc", reason: "", atMilliseconds: 2)
        await waited
        #expect(table.entry("w")?.status == .committed)
    }
}
