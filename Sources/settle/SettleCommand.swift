import ArgumentParser

@main
struct SettleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Operate and audit Settle, the two-phase-commit coordinator.",
        subcommands: [KeygenCommand.self, AuditCommand.self, TransferCommand.self]
    )
}
