import SettleCore
import Testing

@Suite("wait-for graph: one victim per deadlock, the youngest")
struct WaitForGraphTests {
    /// Nodes are ages: a larger number is a younger transfer.
    func victims(_ edges: [(Int, Int)]) -> [Int] {
        var graph = WaitForGraph<Int>()
        for (waiting, holder) in edges { graph.add(waiting: waiting, holder: holder) }
        return graph.victims(isYounger: >).sorted()
    }

    @Test func twoTransfersWaitingForEachOtherLoseTheYounger() {
        #expect(victims([(1, 2), (2, 1)]) == [2])
    }

    @Test func chainsWithoutACycleHaveNoVictim() {
        #expect(victims([(1, 2), (2, 3), (4, 3), (3, 5)]) == [])
    }

    @Test func aTransferWaitingForItselfIsADeadlock() {
        // Two branches of one transfer in one database: the prepared one holds what the other needs.
        #expect(victims([(7, 7)]) == [7])
    }

    @Test func separateCyclesEachLoseTheirYoungest() {
        #expect(victims([(1, 2), (2, 3), (3, 1), (10, 11), (11, 10), (4, 1)]) == [3, 11])
    }

    @Test func aLongChainClosingIntoACycleDoesNotOverflow() {
        var edges = (0..<50_000).map { ($0, $0 + 1) }
        edges.append((50_000, 0))
        #expect(victims(edges) == [50_000])
    }
}
