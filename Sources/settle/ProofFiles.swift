import ArgumentParser
import Foundation
import SettleAudit
import SignedLog

/// Reading and writing receipts, heads and proofs, and the one way their commands fail.
enum ProofFiles {
    /// A receipt for a transfer with many records is a few kilobytes per record; this bounds
    /// what a hostile file can make the checker read.
    static let byteCountMax = 64 << 20

    static func read<Value: Codable>(_ type: Value.Type, from path: String, what: String) throws -> Value {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw AuditError("cannot read \(path)") }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: byteCountMax + 1) ?? Data()
        guard data.count <= byteCountMax else { throw AuditError("\(path) is larger than \(byteCountMax) bytes") }
        return try CanonicalJSON.decode(type, from: Array(data), what: "\(what) \(path)")
    }

    /// Writes to `path`, or to standard output (with a newline, for a terminal) when nil.
    static func write(_ value: some Encodable, to path: String?) throws {
        let bytes = try CanonicalJSON.encode(value)
        guard let path else {
            print(String(decoding: bytes, as: UTF8.self))
            return
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw AuditError("cannot write \(path)")
        }
    }

    /// Runs `body`, turning a proof or log failure into one line on standard error and exit 1.
    static func failing(as command: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as AuditError {
            printError("\(command): FAILED: \(error)")
            throw ExitCode(1)
        } catch let error as SignedLogError {
            printError("\(command): FAILED: \(error)")
            throw ExitCode(1)
        } catch let error as CanonicalJSON.Refusal {
            printError("\(command): FAILED: \(error)")
            throw ExitCode(1)
        }
    }
}
