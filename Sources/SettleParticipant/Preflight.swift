import Foundation
import PostgresClient

/// Start-up checks: each failure says what to change, so a misconfigured database is found at
/// start, not at the first transfer.
enum Preflight {
    struct Report: Sendable {
        let maxPreparedTransactions: Int
        let preparedTransactions: Int
    }

    static func run(_ connection: PostgresConnection, participant: String) async throws -> Report {
        let setting = try await connection.query(
            "SELECT current_setting('max_prepared_transactions')::int AS max_prepared, current_user::text AS role"
        )
        let maxPrepared = Int(try setting[0].decode(Int32.self, column: "max_prepared"))
        let role: String = try setting[0].decode(column: "role")
        guard maxPrepared > 0 else {
            throw ParticipantError(
                .startupRefused,
                "participant '\(participant)': the database has max_prepared_transactions = 0, so PREPARE TRANSACTION "
                    + "is disabled; set max_prepared_transactions (for example to 200, at least max_connections) in "
                    + "postgresql.conf and restart PostgreSQL"
            )
        }
        // The role must be able to write the barrier and to end what it prepares: prove both with a
        // throwaway prepared transaction that is rolled back at once.
        let probeGID = "settle-preflight:\(UUID().uuidString.lowercased())"
        do {
            try await connection.withPreparedTransaction(gid: probeGID) { transaction in
                try await transaction.query("INSERT INTO settle_barrier (gid, op) VALUES ($1, 'action')", [probeGID])
            }
        } catch let error as PostgresError where error.code == .insufficientPrivilege {
            throw ParticipantError(
                .startupRefused,
                "participant '\(participant)': role \(role) cannot write settle_barrier (\(error.message)); "
                    + "grant INSERT, SELECT on settle_barrier to \(role)"
            )
        }
        do {
            try await connection.rollbackPrepared(gid: probeGID)
        } catch let error as PostgresError {
            throw ParticipantError(
                .startupRefused,
                "participant '\(participant)': role \(role) prepared a transaction but cannot end it (\(error.message)); "
                    + "COMMIT PREPARED needs the role that prepared or a superuser — run the service as one role; "
                    + "the probe \(probeGID) is left prepared, roll it back as a superuser"
            )
        }
        let prepared = try await connection.query("SELECT count(*)::int AS prepared FROM pg_prepared_xacts")
        return Report(
            maxPreparedTransactions: maxPrepared,
            preparedTransactions: Int(try prepared[0].decode(Int32.self, column: "prepared"))
        )
    }
}
