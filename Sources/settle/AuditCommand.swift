import ArgumentParser

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check and read the signed recovery log.",
        subcommands: [
            AuditVerifyCommand.self, AuditDumpCommand.self, AuditShowCommand.self, AuditReconcileCommand.self,
            AuditHeadCommand.self, AuditReceiptCommand.self, AuditCheckReceiptCommand.self,
            AuditConsistencyCommand.self, AuditCheckConsistencyCommand.self,
        ]
    )
}
