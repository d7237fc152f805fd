/// Why a receipt, head or proof proves nothing, or why one could not be made; fit to print.
public struct AuditError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
