internal import COpenSSL

/// A failed OpenSSL call, carrying what OpenSSL itself said (its error queue, drained).
public struct OpenSSLError: Error, CustomStringConvertible {
    public let operation: String
    public let reasons: [String]

    /// Drains the thread's OpenSSL error queue, so a later failure does not report this one's reasons.
    init(_ operation: String) {
        self.operation = operation
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.reasons = reasons
    }

    public var description: String {
        reasons.isEmpty ? "\(operation) failed" : "\(operation) failed: \(reasons.joined(separator: "; "))"
    }
}

/// Runs `body` with a read-only memory BIO over `bytes`.
func withMemoryBIO<Result>(
    reading bytes: [UInt8], _ body: (OpaquePointer) throws -> Result
) throws -> Result {
    try bytes.withUnsafeBytes { buffer in
        guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
            throw OpenSSLError("BIO_new_mem_buf")
        }
        defer { BIO_free(bio) }
        return try body(bio)
    }
}

/// Runs `write` against a fresh memory BIO and returns what it wrote.
func bytesWritten(by operation: String, _ write: (OpaquePointer) -> Int32) throws -> [UInt8] {
    guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSLError("BIO_new") }
    defer { BIO_free(bio) }
    guard write(bio) == 1 else { throw OpenSSLError(operation) }
    var data: UnsafeMutablePointer<CChar>?
    // BIO_get_mem_data is a macro over BIO_ctrl(BIO_CTRL_INFO).
    let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data)
    guard length > 0, let data else { throw OpenSSLError(operation) }
    return Array(UnsafeRawBufferPointer(start: data, count: length))
}
