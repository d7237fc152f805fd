import SettleClient

/// One transfer of the chaos workload: move `amount` from an account in one bank to an account in
/// another. Some may fall back to a saga when a branch is slow; some are refused because the
/// account no longer holds the amount.
struct ChaosTransfer: Sendable {
    let id: String
    let debitBank: Int
    let creditBank: Int
    let debitAccount: String
    let creditAccount: String
    let amount: Int64
    let sagaFallback: Bool
    /// Prepared one branch after the other rather than both at once.
    let ordered: Bool

    /// Branch i is the debit when i == 0, the credit when i == 1.
    var branches: [SettleClient.Branch] {
        [
            .init(
                participant: ChaosDeployment.bankNames[debitBank], action: "debit",
                payload: #"{"account":"\#(debitAccount)","amount":\#(amount)}"#, compensation: "refund"
            ),
            .init(
                participant: ChaosDeployment.bankNames[creditBank], action: "credit",
                payload: #"{"account":"\#(creditAccount)","amount":\#(amount)}"#, compensation: "reverse-credit"
            ),
        ]
    }

    /// The bank of branch `index`, and the action and compensation posting kinds it may leave.
    func bank(ofBranch index: Int) -> Int { index == 0 ? debitBank : creditBank }
    static let actionKinds = ["debit", "credit"]
    static let compensationKinds = ["refund", "reverse-credit"]

    static func workload(count: Int, generator: inout SeededGenerator) -> [ChaosTransfer] {
        (0..<count).map { index in
            // The hot phase: a tenth of the run, in its middle, where every transfer pays one
            // merchant (b0 at bank-b) from a payer at bank-a or bank-c, the shape in which
            // transfers queue on one row. The merchant is pooled (its credits append deposits), so
            // credits do not queue; its debits and reverse-credits fold the deposits in.
            let isHot = (count * 4 / 10..<count / 2).contains(index)
            let debitBank =
                isHot
                ? [0, 2][Int.random(in: 0..<2, using: &generator)] : Int.random(in: 0..<ChaosDeployment.bankNames.count, using: &generator)
            let creditBank =
                isHot
                ? ChaosDeployment.merchantBank
                : (debitBank + Int.random(in: 1..<ChaosDeployment.bankNames.count, using: &generator)) % ChaosDeployment.bankNames.count
            let creditIndex = isHot ? 0 : Int.random(in: 0..<ChaosDeployment.accountsPerBank, using: &generator)
            return ChaosTransfer(
                id: "t\(index)",
                debitBank: debitBank, creditBank: creditBank,
                debitAccount: ChaosDeployment.account(bank: debitBank, Int.random(in: 0..<ChaosDeployment.accountsPerBank, using: &generator)),
                creditAccount: ChaosDeployment.account(bank: creditBank, creditIndex),
                // Up to 40% of an opening balance: accounts drain and some debits are refused.
                amount: Int64.random(in: 1...(ChaosDeployment.openingBalance * 2 / 5), using: &generator),
                sagaFallback: Int.random(in: 0..<4, using: &generator) == 0,
                ordered: Int.random(in: 0..<3, using: &generator) == 0
            )
        }
    }
}
