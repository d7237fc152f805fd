import ArgumentParser
import Foundation
import SettleCore
import SignedLog

struct AuditDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the log's sealed records and seals.",
        discussion: """
            Every frame is checked on the way (CRC-32C, LSN order, chain hash, seal order); with \
            --public-key the seal signatures are checked too. Unsealed records at the end are not \
            printed: they are not log content. --json prints one JSON object per line.
            """
    )

    @Option(name: .long, help: "The log: a directory, or postgres://…#coordinator-id for a log in PostgreSQL.")
    var log: String

    @Option(name: .long, help: "The first LSN to print.")
    var from: UInt64 = 1

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Flag(name: .long, help: "One JSON object per line instead of text.")
    var json = false

    func run() throws {
        let keys = try KeyFiles.optional(publicKey)
        if keys == nil && !json {
            print("# seal signatures not checked (no --public-key)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try LogReader(directory: log, keys: keys).forEachBatch(from: LSN(rawValue: from)) { records, seal in
                for record in records where record.lsn.rawValue >= from {
                    if json {
                        print(String(decoding: try encoder.encode(DumpedRecord(record)), as: UTF8.self))
                    } else {
                        print(
                            "LSN \(record.lsn)  \(Timestamp.iso8601(nanoseconds: record.appendedAtNanoseconds))  "
                                + "\(typeName(record.type))  \(PayloadText.render(record.payload))"
                        )
                    }
                }
                if json {
                    print(String(decoding: try encoder.encode(DumpedSeal(seal)), as: UTF8.self))
                } else {
                    print(
                        "seal \(seal.number)  last LSN \(seal.lastLSN)  \(Timestamp.iso8601(nanoseconds: seal.sealedAtNanoseconds))  "
                            + "key \(seal.keyID.description.prefix(16))…  chain \(seal.chainHash)"
                    )
                }
            }
        } catch let error as SignedLogError {
            printError("settle audit dump: \(error)")
            throw ExitCode(1)
        }
    }
}

private struct DumpedRecord: Encodable {
    let kind = "record"
    let lsn: UInt64
    let type: UInt16
    let typeName: String
    let appendedAt: String
    let payloadText: String?
    let payloadBase64: String?
    let chainHash: String

    init(_ record: LogRecord) {
        lsn = record.lsn.rawValue
        type = record.type.rawValue
        typeName = SettleCommand.typeName(record.type)
        appendedAt = Timestamp.iso8601(nanoseconds: record.appendedAtNanoseconds)
        let text = PayloadText.printableText(record.payload)
        payloadText = text
        payloadBase64 = text == nil ? Data(record.payload).base64EncodedString() : nil
        chainHash = record.chainHash.description
    }
}

private struct DumpedSeal: Encodable {
    let kind = "seal"
    let number: UInt64
    let lastLSN: UInt64
    let sealedAt: String
    let keyID: String
    let chainHash: String
    let signature: String

    init(_ seal: LogSeal) {
        number = seal.number
        lastLSN = seal.lastLSN.rawValue
        sealedAt = Timestamp.iso8601(nanoseconds: seal.sealedAtNanoseconds)
        keyID = seal.keyID.description
        chainHash = seal.chainHash.description
        signature = hexEncoded(seal.signature)
    }
}

extension SettleCommand {
    /// The log's own types and the coordinator's by name; anything else by its code.
    static func typeName(_ type: RecordType) -> String {
        CoordinatorRecordType(rawValue: type.rawValue)?.name ?? type.description
    }
}

private func typeName(_ type: RecordType) -> String { SettleCommand.typeName(type) }

enum PayloadText {
    /// Shows UTF-8 payloads as text (the coordinator's are JSON) and anything else as hex.
    static func render(_ payload: [UInt8]) -> String {
        printableText(payload) ?? "0x" + hexEncoded(payload)
    }

    static func printableText(_ payload: [UInt8]) -> String? {
        // C1 controls too (CSI, U+009B, starts terminal escape sequences like ESC [ does): client
        // payloads reach the auditor's terminal through here.
        guard let text = String(validating: payload, as: UTF8.self),
            !text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        else { return nil }
        return text
    }
}
