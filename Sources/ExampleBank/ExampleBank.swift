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

    /// `MovementSQL.withdrawal`: the fold, the withdrawal and its posting, in one round trip.
    private static func withdraw(_ movement: Movement, kind: String, transaction: ParticipantTransaction) async throws {
        let movement = try movement.validated()
        let results = try await transaction.pipeline(
            MovementSQL.withdrawal(account: movement.account, amount: movement.amount, gid: transaction.gid, kind: kind)
        )
        let updated = try applied(results[0...1], to: movement)
        guard updated?.count == 1 else {
            // No such account: the posting's foreign key failed too, and with it the transaction.
            if case .failure(let error) = results[2], error.sqlState == foreignKeyViolation {
                throw Refusal(reason: "unknown account \(movement.account)")
            }
            _ = try results[2].get()
            let existing = try await transaction.query("SELECT balance FROM accounts WHERE id = $1", [movement.account])
            guard let row = existing.first else { throw Refusal(reason: "unknown account \(movement.account)") }
            let balance: Int64 = try row.decode(column: "balance")
            throw Refusal(reason: "insufficient funds in \(movement.account): balance \(balance), needs \(movement.amount)")
        }
        _ = try results[2].get()
    }

    /// `MovementSQL.depositing`: the deposit and its posting, in one round trip.
    private static func deposit(_ movement: Movement, kind: String, transaction: ParticipantTransaction) async throws {
        let movement = try movement.validated()
        let results = try await transaction.pipeline(
            MovementSQL.depositing(account: movement.account, amount: movement.amount, gid: transaction.gid, kind: kind)
        )
        guard try applied(results[0...0], to: movement)?.count == 1 else { throw Refusal(reason: "unknown account \(movement.account)") }
        _ = try results[1].get()
    }

    /// The rows of the last of `results`, which move the money; an overflowing balance (numeric
    /// value out of range) is a refusal, any other failure an error.
    private static func applied(_ results: ArraySlice<Result<PostgresRows, PostgresError>>, to movement: Movement) throws -> PostgresRows? {
        var rows: PostgresRows?
        for result in results {
            switch result {
            case .success(let returned): rows = returned
            case .failure(let error) where error.sqlState == numericValueOutOfRange:
                throw Refusal(reason: "the balance of \(movement.account) would overflow")
            case .failure(let error): throw error
            }
        }
        return rows
    }

    private static let numericValueOutOfRange = "22003"
    private static let foreignKeyViolation = "23503"
}
