import PostgresClient
import SettleAuth
import SignedLog

extension InvariantChecks {
    /// Every action and compensation a bank posted was ordered by the coordinator: its barrier row
    /// keeps a signed order for that very command, gid and work, verifiable with nothing but the
    /// coordinator's public key.
    func ordersBackEveryEffect(_ postings: [Postings]) async throws -> Result {
        let keys = [try VerifyingKey(pemFile: deployment.publicKeyPath)]
        var failures: [String] = []
        var checked = 0
        for (bank, pool) in deployment.pools.enumerated() {
            let rows = try await pool.query(
                """
                SELECT gid, op, decision_lsn, decision_signature, digest FROM settle_barrier
                WHERE op IN ('action', 'compensation') AND starts_with(gid, 'settle:chaos:')
                """
            )
            for row in rows {
                let gid: String = try row.decode(column: "gid")
                let op: String = try row.decode(column: "op")
                let posted = postings[bank][gid] ?? [:]
                let effect =
                    op == "action"
                    ? posted.keys.contains { ChaosTransfer.actionKinds.contains($0) }
                    : posted.keys.contains { ChaosTransfer.compensationKinds.contains($0) }
                guard effect else { continue }  // a cancelled branch's placeholder, or nothing done
                checked += 1
                let lsn: Int64? = try row.decode(column: "decision_lsn")
                let signature: [UInt8]? = try row.decode(column: "decision_signature")
                guard let lsn, let signature else {
                    failures.append("\(gid) (\(op)) posted with no order kept")
                    continue
                }
                let order = SignedOrder(
                    command: op == "action" ? .commit : .compensate, participant: ChaosDeployment.bankNames[bank], gid: gid,
                    decisionLSN: UInt64(lsn),
                    work: op == "action" ? nil : try row.decode([UInt8]?.self, column: "digest")
                )
                if let refusal = order.refusal(of: signature, keys: keys) { failures.append("\(gid) (\(op)): \(refusal)") }
            }
        }
        return Result(
            name: "every posted action and compensation was ordered by a signed decision of the coordinator",
            failures: failures, detail: "\(checked) barrier rows verified with the public key"
        )
    }
}
