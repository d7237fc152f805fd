import PostgresClient
import SettleParticipant

/// ExampleBank's actions and compensations: `debit`/`refund` and `credit`/`reverse-credit`.
public enum ExampleBank {
    public static func register(on participant: Participant, faults: FaultInjection = .none) {
        participant.action("debit", payload: Movement.self) { transaction, movement in
            try await faults.apply(to: "debit")
            try await withdraw(movement, kind: "debit", transaction: transaction)
        }
        participant.action("credit", payload: Movement.self) { transaction, movement in
            try await faults.apply(to: "credit")
            try await deposit(movement, kind: "credit", transaction: transaction)
        }
        participant.compensation("refund", payload: Movement.self) { transaction, movement in
            try await faults.apply(to: "refund")
            try await deposit(movement, kind: "refund", transaction: transaction)
        }
        participant.compensation("reverse-credit", payload: Movement.self) { transaction, movement in
            try await faults.apply(to: "reverse-credit")
            try await withdraw(movement, kind: "reverse-credit", transaction: transaction)
        }
    }

    private static func withdraw(_ movement: Movement, kind: String, transaction: ParticipantTransaction) async throws {
        let movement = try movement.validated()
        let updated: PostgresRows
        do {
            try await transaction.query(MovementSQL.fold, [movement.account])
            updated = try await transaction.query(MovementSQL.withdraw, [movement.account, movement.amount])
        } catch let error as PostgresError where error.sqlState == "22003" {
            throw Refusal(reason: "the balance of \(movement.account) would overflow")
        }
        guard updated.count == 1 else {
            let existing = try await transaction.query("SELECT balance FROM accounts WHERE id = $1", [movement.account])
            guard let row = existing.first else { throw Refusal(reason: "unknown account \(movement.account)") }
            let balance: Int64 = try row.decode(column: "balance")
            throw Refusal(reason: "insufficient funds in \(movement.account): balance \(balance), needs \(movement.amount)")
        }
        try await post(movement, kind: kind, delta: -movement.amount, transaction: transaction)
    }

    private static func deposit(_ movement: Movement, kind: String, transaction: ParticipantTransaction) async throws {
        let movement = try movement.validated()
        let updated: PostgresRows
        do {
            updated = try await transaction.query(MovementSQL.deposit, [movement.account, movement.amount, transaction.gid, kind])
        } catch let error as PostgresError where error.sqlState == "22003" {
            throw Refusal(reason: "the balance of \(movement.account) would overflow")
        }
        guard updated.count == 1 else { throw Refusal(reason: "unknown account \(movement.account)") }
        try await post(movement, kind: kind, delta: movement.amount, transaction: transaction)
    }

    private static func post(_ movement: Movement, kind: String, delta: Int64, transaction: ParticipantTransaction) async throws {
        try await transaction.query(
            MovementSQL.post, [transaction.gid, kind, movement.account, delta]
        )
    }
}
