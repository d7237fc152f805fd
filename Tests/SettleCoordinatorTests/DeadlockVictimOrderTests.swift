import SettleCore
import Testing

@testable import SettleCoordinator

/// Which transfer of a cycle the detector picks: the youngest, but a saga going forward only
/// when the cycle holds nothing still preparing (aborting a preparing transfer rolls back prepared
/// work; a saga's victim compensates what already committed).
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
        let olderPreparing = Order(isSaga: false, submittedAt: 100, transferID: "t-old")
        let youngerPreparing = Order(isSaga: false, submittedAt: 200, transferID: "t-young")
        let youngestSaga = Order(isSaga: true, submittedAt: 300, transferID: "t-saga")
        #expect(Self.victim(of: [olderPreparing, youngerPreparing]) == "t-young")
        #expect(Self.victim(of: [olderPreparing, youngestSaga]) == "t-old")
        #expect(Self.victim(of: [olderPreparing, youngestSaga, youngerPreparing]) == "t-young")
    }

    @Test func aCycleOfSagasGivesUpItsYoungest() {
        let older = Order(isSaga: true, submittedAt: 100, transferID: "t-2")
        let sameMillisecond = Order(isSaga: true, submittedAt: 200, transferID: "t-1")
        let younger = Order(isSaga: true, submittedAt: 200, transferID: "t-3")
        #expect(Self.victim(of: [older, sameMillisecond, younger]) == "t-3")
    }
}
