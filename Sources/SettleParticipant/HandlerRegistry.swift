import Foundation

/// The named actions and compensations a participant serves.
///
/// A handler's payload is decoded before any SQL runs, so a malformed payload is an
/// INVALID_ARGUMENT that touched nothing.
struct HandlerRegistry: Sendable {
    /// Decodes a payload and returns the work bound to it.
    typealias Binder = @Sendable ([UInt8]) throws(ParticipantError) -> BoundWork
    typealias BoundWork = @Sendable (ParticipantTransaction) async throws -> Void

    private(set) var actions: [String: Binder] = [:]
    private(set) var compensations: [String: Binder] = [:]

    enum Kind: String {
        case action, compensation
    }

    mutating func register<Payload: Decodable & Sendable>(
        _ kind: Kind, name: String, payload: Payload.Type,
        _ body: @escaping @Sendable (ParticipantTransaction, Payload) async throws -> Void
    ) {
        precondition(OperationName.isValid(name), "\(kind) name '\(name)' must match [a-z0-9._-]{1,64}")
        let binder: Binder = { bytes throws(ParticipantError) in
            let decoded: Payload
            do {
                decoded = try JSONDecoder().decode(Payload.self, from: Data(bytes))
            } catch {
                throw ParticipantError(
                    .invalidArgument, "payload for \(kind) '\(name)' is not a valid \(Payload.self): \(describe(error))"
                )
            }
            return { transaction in try await body(transaction, decoded) }
        }
        switch kind {
        case .action:
            precondition(actions[name] == nil, "action '\(name)' is registered twice")
            actions[name] = binder
        case .compensation:
            precondition(compensations[name] == nil, "compensation '\(name)' is registered twice")
            compensations[name] = binder
        }
    }

    func bind(_ kind: Kind, name: String, payload: [UInt8]) throws(ParticipantError) -> BoundWork {
        try OperationName.validate(name, kind: kind.rawValue)
        let table = kind == .action ? actions : compensations
        guard let binder = table[name] else {
            throw ParticipantError(
                .unknownOperation,
                "no \(kind) named '\(name)' is registered here (registered: \(table.keys.sorted().joined(separator: ", ")))"
            )
        }
        return try binder(payload)
    }
}

/// A decoding error in one line: which field, what was wrong.
private func describe(_ error: any Error) -> String {
    guard let decodingError = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
        return keys.isEmpty ? "" : " at '\(keys)'"
    }
    switch decodingError {
    case .keyNotFound(let key, let context): return "missing field '\(key.stringValue)'\(path(context))"
    case .typeMismatch(_, let context): return "\(context.debugDescription)\(path(context))"
    case .valueNotFound(_, let context): return "null where a value is required\(path(context))"
    case .dataCorrupted(let context): return "\(context.debugDescription)\(path(context))"
    @unknown default: return "\(decodingError)"
    }
}
