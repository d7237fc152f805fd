// README.md, "Embedding the participant library", shows this file's code between the markers;
// ReadmeExampleTests fails if the two differ, so the README's example always compiles.
// BEGIN README EXAMPLE
import Logging
import PostgresClient
import SettleParticipant

struct Payment: Decodable, Sendable {
    let account: String
    let amount: Int64  // minor units (cents); never floating point
}

func runPaymentsParticipant(databaseURL: String, coordinatorToken: String) async throws {
    let pool = PostgresPool(configuration: .init(connectionString: databaseURL, connectionsMax: 16))
    let participant = Participant(
        name: "payments", database: pool,
        configuration: ParticipantConfiguration(coordinatorToken: coordinatorToken)
    )
    participant.action("debit", payload: Payment.self) { transaction, payment in
        let updated = try await transaction.query(
            "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1 RETURNING balance",
            [payment.amount, payment.account]
        )
        if updated.isEmpty { throw Refusal(reason: "insufficient funds in \(payment.account)") }
    }
    participant.compensation("refund", payload: Payment.self) { transaction, payment in
        try await transaction.query(
            "UPDATE accounts SET balance = balance + $1 WHERE id = $2", [payment.amount, payment.account]
        )
    }
    // Creates or migrates settle_barrier, checks max_prepared_transactions and the role's rights.
    let server = try await participant.start(host: "0.0.0.0", port: 7001)
    try await server.run()  // until server.beginGracefulShutdown()
}
// END README EXAMPLE
