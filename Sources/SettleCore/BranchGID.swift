/// The PostgreSQL global transaction id of one branch:
/// `settle:<coordinator-id>:<epoch>:<nonce>:<transfer-id>:<branch-index>`.
///
/// The format is specified in `protocol/gid.md`. Parsing is strict and total: any string that is
/// not exactly what `description` would produce is rejected, so a gid read from
/// `pg_prepared_xacts` maps back to one branch of one admission, or to none.
public struct BranchGID: Hashable, Sendable, CustomStringConvertible {
    public static let scheme = "settle"

    public let coordinatorID: String
    public let admission: Admission
    public let transferID: String
    public let branchIndex: Int

    /// The longest gid these limits admit; checked against PostgreSQL's limit by a unit test.
    public static let bytesMax =
        scheme.utf8.count + 1 + Limits.coordinatorIDBytesMax + 1 + Admission.epochDigitsMax + 1 + Admission.nonceHexDigits + 1
        + Limits.transferIDBytesMax + 1 + String(Limits.branchesPerTransferMax - 1).utf8.count

    public init(coordinatorID: String, admission: Admission, transferID: String, branchIndex: Int) throws(GIDError) {
        try Self.validateCoordinatorID(coordinatorID)
        try Self.validateTransferID(transferID)
        guard (0..<Limits.branchesPerTransferMax).contains(branchIndex) else {
            throw GIDError("branch index \(branchIndex) is outside 0..<\(Limits.branchesPerTransferMax)")
        }
        self.coordinatorID = coordinatorID
        self.admission = admission
        self.transferID = transferID
        self.branchIndex = branchIndex
    }

    /// Parses a gid; throws for anything that is not a well-formed Settle gid.
    public init(parsing text: String) throws(GIDError) {
        guard text.utf8.count <= Limits.gidBytesMax else {
            throw GIDError("gid is \(text.utf8.count) bytes; at most \(Limits.gidBytesMax)")
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == Self.scheme else {
            throw GIDError(
                "gid \"\(text)\" is not of the form settle:<coordinator-id>:<epoch>:<nonce>:<transfer-id>:<branch-index>"
            )
        }
        let index = parts[5]
        // Canonical decimal only: no sign, no leading zero, so each branch has exactly one gid.
        guard let branchIndex = Int(index), String(branchIndex) == index else {
            throw GIDError("gid \"\(text)\" has branch index \"\(index)\", not a canonical decimal")
        }
        try self.init(
            coordinatorID: String(parts[1]), admission: try Admission(epochText: parts[2], nonceText: parts[3]),
            transferID: String(parts[4]), branchIndex: branchIndex
        )
    }

    /// The prefix shared by every gid of one coordinator; what the in-doubt sweep asks for.
    public static func prefix(coordinatorID: String) throws(GIDError) -> String {
        try validateCoordinatorID(coordinatorID)
        return "\(scheme):\(coordinatorID):"
    }

    public var description: String { "\(Self.scheme):\(coordinatorID):\(admission):\(transferID):\(branchIndex)" }

    /// `[a-z0-9-]`, starting with a letter or digit.
    public static func validateCoordinatorID(_ id: String) throws(GIDError) {
        let bytes = Array(id.utf8)
        guard (1...Limits.coordinatorIDBytesMax).contains(bytes.count) else {
            throw GIDError("coordinator id must be 1 to \(Limits.coordinatorIDBytesMax) bytes, not \(bytes.count)")
        }
        guard bytes.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }), isLowerAlphanumeric(bytes[0])
        else {
            throw GIDError("coordinator id \"\(id)\" may hold only a-z, 0-9 and '-', and must start with a letter or digit")
        }
    }

    /// `[A-Za-z0-9._-]`, starting with a letter or digit; never a colon, which separates gid parts.
    public static func validateTransferID(_ id: String) throws(GIDError) {
        let bytes = Array(id.utf8)
        guard (1...Limits.transferIDBytesMax).contains(bytes.count) else {
            throw GIDError("transfer id must be 1 to \(Limits.transferIDBytesMax) bytes, not \(bytes.count)")
        }
        let allowed = bytes.allSatisfy { byte in
            isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed, isLowerAlphanumeric(bytes[0]) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[0])
        else {
            throw GIDError(
                "transfer id \"\(id)\" may hold only A-Z, a-z, 0-9, '.', '_' and '-', and must start with a letter or digit"
            )
        }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// Why a gid, coordinator id or transfer id was refused; the message is fit to return to a client.
public struct GIDError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
