import SettleProtocol

/// The storm passes only if it exercised what it claims to test: enough transfers committed by
/// two-phase commit, and at least one of every other ending and of every fault. Without this, a
/// coordinator that aborted everything would pass every other invariant.
struct StormCoverage {
    let outcomes: [WorkloadRunner.Outcome]
    let tally: FaultSchedule.Tally
    let transfers: Int
    /// False with `--failover`, whose own checks count the coordinators' faults.
    var killsCoordinator = true

    /// At least this share of the transfers commits by two-phase commit: most accounts hold
    /// enough, and most branches answer before the deadline, even in a storm.
    static let twoPhaseCommitShareMin = 0.2
    /// Storms of at least this many transfers must have compensated one.
    static let compensationRequiredFrom = 2000

    func result() -> InvariantChecks.Result {
        let twoPhaseMin = max(1, Int((Double(transfers) * Self.twoPhaseCommitShareMin).rounded(.down)))
        let counts: [(name: String, count: Int, min: Int)] = [
            ("committed by two-phase commit", count(.committed, path: "2pc"), twoPhaseMin),
            ("committed by a saga", count(.committed, path: "saga"), 1),
            // A compensation needs a saga whose late branch is then refused: common in a long
            // storm, but a few hundred transfers may see none (tools/test's short run).
            ("compensated", count(.compensated, path: nil), transfers >= Self.compensationRequiredFrom ? 1 : 0),
            ("aborted at the prepare deadline", outcomes.filter { $0.state == .aborted && $0.reason.contains("prepare deadline passed") }.count, 1),
            ("refused by a bank (insufficient funds)", outcomes.filter { $0.state == .aborted && $0.reason.contains("insufficient funds") }.count, 1),
            ("coordinator killed and restarted", tally.coordinatorKills, killsCoordinator ? 1 : 0),
            ("coordinator crashed mid-batch", tally.coordinatorSelfCrashes, killsCoordinator ? 1 : 0),
            ("bank killed and restarted", tally.bankKills, 1),
            ("bank restarted slow", tally.slowBankStarts, 1),
        ]
        let failures = counts.filter { $0.count < $0.min }.map { "\($0.name): \($0.count), at least \($0.min) expected" }
        return InvariantChecks.Result(
            name: "the storm exercised every ending and every fault",
            failures: failures,
            detail: counts.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
        )
    }

    private func count(_ state: Settle_V1_TransferState, path: String?) -> Int {
        outcomes.filter { $0.state == state && (path == nil || $0.path == path) }.count
    }
}
