import Foundation
import PostgresClient
import SettleClient
import SettleTestSupport
import Testing

/// `settle audit reconcile` finds each kind of disagreement between the log and the banks made by
/// hand, and none after an honest run.
@Suite("settle audit reconcile", .timeLimit(.minutes(5)))
struct ReconcileTests {
    struct Report: Decodable {
        struct Line: Decodable {
            let gid: String
            let participant: String
            let log: String
            let database: String
        }
        let branchesChecked: Int
        let discrepancies: [Line]
    }

    func reconcile(_ deployment: Deployment) throws -> (status: Int32, report: Report?, output: String) {
        let file = deployment.directory.subpath("participants.json")
        let urls = #"{"bank-a": "\#(deployment.databases[0].url)", "bank-b": "\#(deployment.databases[1].url)"}"#
        try? FileManager.default.removeItem(atPath: file)
        #expect(FileManager.default.createFile(atPath: file, contents: Data(urls.utf8), attributes: [.posixPermissions: 0o600]))
        let finished = try run(
            "settle",
            [
                "audit", "reconcile", "--log", deployment.logDirectory, "--public-key", deployment.publicKeyPath,
                "--coordinator-id", deployment.coordinatorID, "--participants", file, "--json",
            ]
        )
        return (finished.status, try? JSONDecoder().decode(Report.self, from: Data(finished.output.utf8)), finished.output + finished.errorOutput)
    }

    @Test func everyHandMadeDiscrepancyIsReportedAndAnHonestRunHasNone() async throws {
        try await withDeployment { deployment throws in
            let committed = try await deployment.client {
                try await $0.submit(id: "r-ok", branches: Deployment.branches(amount: 10, fromA: true, account: 1), wait: true)
            }
            let tampered = try await deployment.client {
                try await $0.submit(id: "r-2", branches: Deployment.branches(amount: 10, fromA: true, account: 2), wait: true)
            }
            let aborted = try await deployment.client {
                try await $0.submit(id: "r-abort", branches: Deployment.branches(amount: 999_999, fromA: true, account: 3), wait: true)
            }
            #expect([committed.state, tampered.state, aborted.state] == [.committed, .committed, .aborted])

            let honest = try reconcile(deployment)
            #expect(honest.status == 0, "\(honest.output)")
            #expect(honest.report?.discrepancies.isEmpty == true)
            #expect(honest.report?.branchesChecked == 6)

            // Stopped, so that its sweep does not roll back the stranger prepared below.
            deployment.settled?.stop()
            let (bankA, bankB) = (deployment.pools[0], deployment.pools[1])
            let deleted = committed.branches[1].gid
            try await bankB.query("DELETE FROM settle_barrier WHERE gid = $1 AND op = 'action'", [deleted])
            let behindTheBack = aborted.branches[1].gid
            try await bankB.query("DELETE FROM settle_barrier WHERE gid = $1 AND op = 'cancelled'", [behindTheBack])
            let forged = tampered.branches[0].gid
            try await bankA.query("UPDATE settle_barrier SET decision_lsn = decision_lsn + 1 WHERE gid = $1 AND op = 'action'", [forged])
            let unsigned = tampered.branches[1].gid
            try await bankB.query("UPDATE settle_barrier SET decision_signature = NULL WHERE gid = $1 AND op = 'action'", [unsigned])
            let stranger = "settle:\(deployment.coordinatorID):1:0000000000000001:ghost:0"
            try await bankA.withConnection { connection in
                try await connection.query("BEGIN")
                try await connection.query("PREPARE TRANSACTION '\(stranger)'")
            }

            let found = try reconcile(deployment)
            try await bankA.withConnection { try await $0.rollbackPrepared(gid: stranger) }
            #expect(found.status == 1, "\(found.output)")
            let lines = found.report?.discrepancies ?? []
            #expect(lines.count == 5, "\(lines)")
            func line(_ gid: String) -> Report.Line? { lines.first { $0.gid == gid } }
            #expect(line(deleted)?.log == "committed" && line(deleted)?.database == "no action row")
            #expect(line(behindTheBack)?.log == "aborted" && line(behindTheBack)?.database == "the action committed")
            #expect(line(forged)?.database.contains("does not verify") == true, "\(String(describing: line(forged)))")
            #expect(line(unsigned)?.database.contains("no signed order") == true)
            #expect(line(stranger)?.log == "no such branch" && line(stranger)?.database == "a prepared transaction")
            #expect(line(stranger)?.participant == "bank-a")
        }
    }
}
