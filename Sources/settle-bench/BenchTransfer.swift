import ArgumentParser
import Foundation
import SettleClient
import SettleCore

/// One benchmark transfer through Settle: a debit at the first participant of one `amount` for
/// every other participant, and a credit of `amount` at each of them.
enum BenchTransfer {
    static func participantNames(_ list: String) throws -> [String] {
        let names = list.split(separator: ",").map(String.init)
        guard (2...8).contains(names.count), Set(names).count == names.count else {
            throw ValidationError("--participants names two to eight different participants")
        }
        return names
    }

    static func branches(participants names: [String], debit: String, credit: String) -> [SettleClient.Branch] {
        movements(participants: names, debit: debit, credit: credit).map {
            .init(participant: $0.participant, action: $0.action, payload: $0.payload)
        }
    }

    /// The same branches as the coordinator seals them in ACCEPTED.
    static func specBranches(participants names: [String], debit: String, credit: String) -> [TransferSpec.Branch] {
        movements(participants: names, debit: debit, credit: credit).map {
            .init(participant: $0.participant, action: $0.action, payload: Data($0.payload.utf8))
        }
    }

    private static func movements(
        participants names: [String], debit: String, credit: String
    ) -> [(participant: String, action: String, payload: String)] {
        [(names[0], "debit", payload(account: debit, amount: BenchAccounts.debitAmount(banks: names.count)))]
            + names.dropFirst().map { ($0, "credit", payload(account: credit, amount: BenchAccounts.amount)) }
    }

    private static func payload(account: String, amount: Int64) -> String {
        #"{"account":"\#(account)","amount":\#(amount)}"#
    }
}
