import Foundation

/// A transfer as the client submitted it: the idempotency key and the ordered branches.
/// Amounts live inside the payloads, as integers in minor units.
public struct TransferSpec: Codable, Hashable, Sendable {
    public struct Branch: Codable, Hashable, Sendable {
        public var participant: String
        public var action: String
        /// UTF-8 JSON for the action.
        public var payload: Data
        public var compensation: String
        /// Empty means the action's payload.
        public var compensationPayload: Data

        public init(participant: String, action: String, payload: Data, compensation: String = "", compensationPayload: Data = Data()) {
            self.participant = participant
            self.action = action
            self.payload = payload
            self.compensation = compensation
            self.compensationPayload = compensationPayload
        }

        private enum CodingKeys: String, CodingKey {
            case participant, action, payload, compensation, compensationPayload
        }

        // Payloads are UTF-8 JSON (validated), stored as text so the audit trail reads as written.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            participant = try container.decode(String.self, forKey: .participant)
            action = try container.decode(String.self, forKey: .action)
            payload = Data(try container.decode(String.self, forKey: .payload).utf8)
            compensation = try container.decode(String.self, forKey: .compensation)
            compensationPayload = Data(try container.decode(String.self, forKey: .compensationPayload).utf8)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(participant, forKey: .participant)
            try container.encode(action, forKey: .action)
            try container.encode(String(decoding: payload, as: UTF8.self), forKey: .payload)
            try container.encode(compensation, forKey: .compensation)
            try container.encode(String(decoding: compensationPayload, as: UTF8.self), forKey: .compensationPayload)
        }
    }

    public enum OnPrepareTimeout: String, Codable, Hashable, Sendable {
        case abort
        case saga
    }

    /// All branches prepared at once, or one after another in `canonicalPrepareOrder` (a transfer
    /// then never holds a row in a later database while waiting in an earlier one, so transfers of
    /// one coordinator cannot deadlock across databases in their first prepares; a saga's re-drive
    /// still prepares its late branches at once).
    public enum PrepareOrder: String, Codable, Hashable, Sendable {
        case parallel
        case ordered
    }

    public struct Policy: Codable, Hashable, Sendable {
        /// nil means the coordinator's default, resolved when the transfer starts.
        public var onPrepareTimeout: OnPrepareTimeout?
        public var prepareTimeoutMilliseconds: UInt32?
        public var sagaTimeoutMilliseconds: UInt32?
        public var compensationRetriesMax: UInt32?
        /// Absent from ACCEPTED records written before the policy existed: those prepared in parallel.
        public var prepareOrder: PrepareOrder?

        public init(
            onPrepareTimeout: OnPrepareTimeout? = nil, prepareTimeoutMilliseconds: UInt32? = nil, sagaTimeoutMilliseconds: UInt32? = nil,
            compensationRetriesMax: UInt32? = nil, prepareOrder: PrepareOrder? = nil
        ) {
            self.onPrepareTimeout = onPrepareTimeout
            self.prepareTimeoutMilliseconds = prepareTimeoutMilliseconds
            self.sagaTimeoutMilliseconds = sagaTimeoutMilliseconds
            self.compensationRetriesMax = compensationRetriesMax
            self.prepareOrder = prepareOrder
        }
    }

    /// Branch indices by participant name, then by index: one order every transfer shares, so
    /// ordered prepares take the databases' locks in the same order everywhere.
    public var canonicalPrepareOrder: [Int] {
        branches.indices.sorted { left, right in
            let (a, b) = (branches[left].participant, branches[right].participant)
            return a == b ? left < right : Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
    }

    public var id: String
    public var branches: [Branch]
    public var policy: Policy

    public init(id: String, branches: [Branch], policy: Policy = Policy()) {
        self.id = id
        self.branches = branches
        self.policy = policy
    }

    public static let payloadBytesMax = 64 * 1024
    public static let prepareTimeoutMillisecondsMax: UInt32 = 600_000
    public static let sagaTimeoutMillisecondsMax: UInt32 = 86_400_000

    /// Checks every bound before anything is logged or sent; the message is fit for the client.
    public func validate(participants: Set<String>) throws(SpecError) {
        do {
            try BranchGID.validateTransferID(id)
        } catch {
            throw SpecError(error.message)
        }
        guard (1...Limits.branchesPerTransferMax).contains(branches.count) else {
            throw SpecError("a transfer has 1 to \(Limits.branchesPerTransferMax) branches, not \(branches.count)")
        }
        for (index, branch) in branches.enumerated() {
            guard participants.contains(branch.participant) else {
                throw SpecError(
                    "branch \(index): unknown participant \(quoted(branch.participant)) (configured: \(participants.sorted().joined(separator: ", ")))"
                )
            }
            guard Self.isValidName(branch.action) else {
                throw SpecError("branch \(index): action name must match [a-z0-9._-]{1,64}")
            }
            guard branch.compensation.isEmpty || Self.isValidName(branch.compensation) else {
                throw SpecError("branch \(index): compensation name must match [a-z0-9._-]{1,64}")
            }
            guard branch.payload.count <= Self.payloadBytesMax, branch.compensationPayload.count <= Self.payloadBytesMax else {
                throw SpecError("branch \(index): payloads are at most \(Self.payloadBytesMax) bytes")
            }
            guard JSONObjectCheck.isObject(branch.payload),
                branch.compensationPayload.isEmpty || JSONObjectCheck.isObject(branch.compensationPayload)
            else {
                throw SpecError("branch \(index): a payload must be a UTF-8 JSON object (compensation_payload may be empty)")
            }
        }
        if let timeout = policy.prepareTimeoutMilliseconds, !(1...Self.prepareTimeoutMillisecondsMax).contains(timeout) {
            throw SpecError("prepare timeout must be 1 to \(Self.prepareTimeoutMillisecondsMax) ms")
        }
        if let timeout = policy.sagaTimeoutMilliseconds, !(1...Self.sagaTimeoutMillisecondsMax).contains(timeout) {
            throw SpecError("saga timeout must be 1 to \(Self.sagaTimeoutMillisecondsMax) ms")
        }
        if let retries = policy.compensationRetriesMax, !(1...1000).contains(retries) {
            throw SpecError("compensation retries must be 1 to 1000")
        }
    }

    /// `[a-z0-9._-]{1,64}`: participant, action and compensation names.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...64).contains(bytes.count)
            && bytes.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// The gid of branch `index` under `coordinatorID`, formatted by `BranchGID`. Both ids were
    /// validated before (the spec on Submit, the coordinator id with the configuration), so a
    /// failure here is a bug.
    public func gid(ofBranch index: Int, coordinatorID: String, admission: Admission) -> String {
        do {
            return try BranchGID(coordinatorID: coordinatorID, admission: admission, transferID: id, branchIndex: index).description
        } catch {
            preconditionFailure("transfer \(id), branch \(index): \(error)")
        }
    }

    private func quoted(_ text: String) -> String { "'" + String(text.prefix(64)) + "'" }
}

public struct SpecError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
