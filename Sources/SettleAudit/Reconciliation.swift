import PostgresClient
import SettleCore
import SignedLog

/// `settle audit reconcile`: the coordinator's log against its participants' databases, both ways.
/// Every branch the log finished must show in its database as decided, with the coordinator's
/// signed order on the row that did it; every barrier row and every prepared transaction under
/// the coordinator's prefix must belong to a branch the log knows.
public struct Reconciliation: Sendable {
    public struct Summary: Sendable, Codable {
        public var recordsRead = 0
        public var transfers = 0
        public var branchesChecked = 0
        /// Stuck or resolved by hand: the databases were made right by an operator, not checked.
        public var branchesLeftToOperators = 0
        public var branchesInFlight = 0
        public var discrepancies: [Discrepancy] = []
    }

    public let coordinatorID: String
    public let expectations: LogExpectations
    public let keys: [VerifyingKey]

    public init(coordinatorID: String, expectations: LogExpectations, keys: [VerifyingKey]) {
        self.coordinatorID = coordinatorID
        self.expectations = expectations
        self.keys = keys
    }

    /// Checks each participant in turn; `progress` is told after each.
    public func run(
        participants: [(name: String, url: String)], progress: (_ participant: String) -> Void = { _ in }
    ) async throws -> Summary {
        let prefix = try BranchGID.prefix(coordinatorID: coordinatorID)
        var summary = Summary(recordsRead: expectations.recordsRead, transfers: expectations.transfers.count)
        for participant in participants {
            let pool = PostgresPool(configuration: .init(connectionString: participant.url, connectionsMax: 1))
            do {
                try await check(participant.name, BarrierScan(pool: pool, prefix: prefix), into: &summary)
                await pool.close()
            } catch {
                await pool.close()
                throw error
            }
            progress(participant.name)
        }
        return summary
    }

    private func check(_ participant: String, _ scan: BarrierScan, into summary: inout Summary) async throws {
        let prepared = try await scan.prepared()
        var seen = Set<String>()
        try await scan.forEachBranch { gid, rows in
            seen.insert(gid)
            judge(gid, participant, rows: rows, isPrepared: prepared.contains(gid), into: &summary)
        }
        for gid in prepared.subtracting(seen).sorted() {
            seen.insert(gid)
            judge(gid, participant, rows: [], isPrepared: true, into: &summary)
        }
        // Branches the log finished at this participant that left no row at all.
        for transfer in expectations.transfers.values {
            for (index, name) in transfer.participants.enumerated() where name == participant {
                let gid = "settle:\(coordinatorID):\(transfer.admission):\(transfer.id):\(index)"
                guard !seen.contains(gid) else { continue }
                judge(gid, participant, rows: [], isPrepared: false, into: &summary)
            }
        }
    }

    private func judge(_ gid: String, _ participant: String, rows: [BarrierScan.Row], isPrepared: Bool, into summary: inout Summary) {
        func report(_ log: String, _ database: String) {
            summary.discrepancies.append(Discrepancy(gid: gid, participant: participant, log: log, database: database))
        }
        guard let parsed = try? BranchGID(parsing: gid), parsed.coordinatorID == coordinatorID else {
            return report("nothing (not a gid this coordinator issues)", isPrepared ? "a prepared transaction" : "barrier rows")
        }
        let key = LogExpectations.key(admission: parsed.admission, transferID: parsed.transferID)
        guard let transfer = expectations.transfers[key], parsed.branchIndex < transfer.participants.count else {
            return report("no such branch", isPrepared ? "a prepared transaction" : "\(rows.map(\.op).joined(separator: ", ")) rows")
        }
        guard transfer.participants[parsed.branchIndex] == participant else {
            return report("the branch belongs to \(transfer.participants[parsed.branchIndex])", "it here")
        }
        switch transfer.ending {
        case .inFlight: summary.branchesInFlight += 1
        case .stuck, .manual: summary.branchesLeftToOperators += 1
        case .committed, .aborted, .compensated: summary.branchesChecked += 1
        }
        if rows.isEmpty && !isPrepared && transfer.ending == .aborted { return }
        let check = BranchCheck(
            gid: gid, participant: participant, branchIndex: parsed.branchIndex, expected: transfer, rows: rows, isPrepared: isPrepared,
            keys: keys
        )
        if let (log, database) = check.disagreement() {
            report(log, database)
        }
    }
}
