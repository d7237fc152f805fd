// README.md, "Embedding the participant library", shows this file's code between the markers;
// ReadmeExampleTests fails if the two differ, so the README's example always compiles.
// BEGIN README EXAMPLE
import GRPCNIOTransportHTTP2
import Logging
import PostgresClient
import SettleParticipant

struct Payment: Decodable, Sendable {
    let account: String
    let amount: Int64  // minor units (cents); never floating point
}

func runPaymentsParticipant(databaseURL: String, coordinatorsFile: String, tlsDirectory: String) async throws {
    let pool = PostgresPool(configuration: .init(connectionString: databaseURL, connectionsMax: 16))
    // Which coordinators may call, each with its token (or its SHA-256) and its public key:
    // [{"id": "walk", "tokenFile": "/etc/payments/walk.token", "publicKeys": ["/etc/payments/walk.pub.pem"]}]
    let coordinators = try CoordinatorsFile.load(coordinatorsFile)
    let participant = Participant(
        name: "payments", database: pool, configuration: ParticipantConfiguration(coordinators: coordinators)
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
    // Plaintext is refused on an address that is not loopback: serve TLS.
    let server = try await participant.start(
        host: "0.0.0.0", port: 7001,
        transportSecurity: .tls(
            certificateChain: [.file(path: tlsDirectory + "/chain.pem", format: .pem)],
            privateKey: .file(path: tlsDirectory + "/key.pem", format: .pem)
        )
    )
    try await server.run()  // until server.beginGracefulShutdown()
}
// END README EXAMPLE
