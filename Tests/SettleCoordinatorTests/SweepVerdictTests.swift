import SettleCore
import Testing
@testable import SettleCoordinator

/// The in-doubt sweep's verdict on a branch it finds prepared and does not know.
@Suite struct SweepVerdictTests {
    func gid(epoch: UInt32) throws -> BranchGID {
        try BranchGID(coordinatorID: "coord", admission: Admission(epoch: epoch, nonce: 7), transferID: "t", branchIndex: 0)
    }

    @Test func anUnknownBranchOfThisEpochOrAnEarlierOneIsRolledBack() throws {
        #expect(Coordinator.sweepVerdict(for: try gid(epoch: 3), at: "bank-a", entry: nil, epoch: 3) == .rollBack)
        #expect(Coordinator.sweepVerdict(for: try gid(epoch: 2), at: "bank-a", entry: nil, epoch: 3) == .rollBack)
    }

    /// A deposed daemon that has not noticed yet must not roll back what its successor prepared.
    @Test func aBranchOfANewerEpochIsLeftToItsCoordinator() throws {
        #expect(Coordinator.sweepVerdict(for: try gid(epoch: 4), at: "bank-a", entry: nil, epoch: 3) == .leave)
    }
}
