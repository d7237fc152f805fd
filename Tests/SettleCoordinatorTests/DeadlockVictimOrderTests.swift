import SettleCore
import Testing

@testable import SettleCoordinator

/// Which transfer of a cycle the detector picks: the youngest still preparing; a saga going
/// forward only when the cycle holds none (aborting a preparing transfer rolls back prepared work;
/// a saga's victim compensates what already committed); one already ending last.
@Suite("deadlock victims")
struct DeadlockVictimOrderTests {
    typealias Order = DeadlockDetector.VictimOrder

    static func victim(of cycle: [Order]) -> String? {
        var graph = WaitForGraph<String>()
        for (index, order) in cycle.enumerated() {
            graph.add(waiting: order.transferID, holder: cycle[(index + 1) % cycle.count].transferID)
        }
        let orders = Dictionary(uniqueKeysWithValues: cycle.map { ($0.transferID, $0) })
        return graph.victims { first, second in orders[first]! > orders[second]! }.first
    }

    @Test func theYoungestPreparingTransferGivesWayBeforeAnySaga() {
        let olderPreparing = Order(.preparing, submittedAt: 100, transferID: "t-old")
        let youngerPreparing = Order(.preparing, submittedAt: 200, transferID: "t-young")
        let youngestSaga = Order(.saga, submittedAt: 300, transferID: "t-saga")
        #expect(Self.victim(of: [olderPreparing, youngerPreparing]) == "t-young")
        #expect(Self.victim(of: [olderPreparing, youngestSaga]) == "t-old")
        #expect(Self.victim(of: [olderPreparing, youngestSaga, youngerPreparing]) == "t-young")
    }

    /// A transfer already ending (committing, aborting, compensating) ignores the request, and
    /// its own ending frees what it holds: it is chosen only when nothing else in the cycle can be.
    @Test func aTransferAlreadyEndingIsChosenLast() {
        let ending: [TransferStatus] = [.committing, .aborting, .compensating]
        for status in ending {
            let youngestEnding = Order(status, submittedAt: 300, transferID: "t-ending")
            #expect(youngestEnding.kind == .ending, "\(status)")
            #expect(Self.victim(of: [Order(.saga, submittedAt: 100, transferID: "t-saga"), youngestEnding]) == "t-saga")
            #expect(Self.victim(of: [Order(.preparing, submittedAt: 100, transferID: "t-old"), youngestEnding]) == "t-old")
        }
    }

    @Test func aCycleOfSagasGivesUpItsYoungest() {
        let older = Order(.saga, submittedAt: 100, transferID: "t-2")
        let sameMillisecond = Order(.saga, submittedAt: 200, transferID: "t-1")
        let younger = Order(.saga, submittedAt: 200, transferID: "t-3")
        #expect(Self.victim(of: [older, sameMillisecond, younger]) == "t-3")
    }
}
