import Foundation
import SwiftProtobuf

/// What a participant does with a request's bytes before any SQL runs, as ParticipantService
/// does it: decode (the first byte picks Prepare, Commit, Compensate, or a `Branches` command
/// carrying a Prepare, Commit or Rollback), check the gid and the
/// payload's size, compute the work digest, check the signed order (a lone signature or a batch
/// seal) against a key, and bind the
/// operation (ExampleBank's handlers: JSON `Movement` payloads), then validate the movement.
/// No bytes may trap on that path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParticipantRequest(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let kind = start.load(as: UInt8.self) % 4
    let bytes = Data(UnsafeRawBufferPointer(start: start + 1, count: count - 1))
    let limits = RequestLimits(payloadBytesMax: 64 * 1024)
    switch kind {
    case 0:
        guard let request = try? Settle_V1_PrepareRequest(serializedBytes: bytes) else { return 0 }
        check(.prepare, .action, gid: request.gid, name: request.action, payload: request.payload, order: request.order, limits: limits)
    case 3:
        guard let command = try? Settle_V1_BranchCommand(serializedBytes: bytes) else { return 0 }
        switch command.command {
        case .prepare(let request):
            check(.prepare, .action, gid: request.gid, name: request.action, payload: request.payload, order: request.order, limits: limits)
        case .commit(let request): checkPhaseTwo(.commit, gid: request.gid, order: request.order, limits: limits)
        case .rollback(let request): checkPhaseTwo(.rollback, gid: request.gid, order: request.order, limits: limits)
        case nil: break
        }
        // What an answer's error message is cut to.
        _ = command.traceparent.truncated(toUTF8Bytes: 1024)
    case 1:
        guard let request = try? Settle_V1_CompensateRequest(serializedBytes: bytes) else { return 0 }
        check(
            .compensate, .compensation, gid: request.gid, name: request.compensation, payload: request.payload,
            order: request.order, limits: limits
        )
    default:
        guard let request = try? Settle_V1_CommitRequest(serializedBytes: bytes) else { return 0 }
        checkPhaseTwo(.commit, gid: request.gid, order: request.order, limits: limits)
    }
    return 0
}

private func checkPhaseTwo(_ command: SignedOrder.Command, gid: String, order message: Settle_V1_SignedOrder, limits: RequestLimits) {
    guard (try? limits.validateGID(gid)) != nil else { return }
    let order = SignedOrder(command: command, participant: "bank-a", gid: gid, decisionLSN: message.decisionLsn, work: nil)
    _ = order.refusal(of: Array(message.signature), keys: [FuzzKeys.coordinator], verifiedBatches: FuzzKeys.verifiedBatches)
}

private func check(
    _ command: SignedOrder.Command, _ kind: HandlerRegistry.Kind, gid: String, name: String, payload: Data,
    order message: Settle_V1_SignedOrder, limits: RequestLimits
) {
    guard (try? limits.validateGID(gid)) != nil, (try? limits.validatePayload(payload, for: name)) != nil else { return }
    let digest = WorkDigest(name: name, payload: payload)
    let order = SignedOrder(command: command, participant: "bank-a", gid: gid, decisionLSN: message.decisionLsn, work: digest.bytes)
    _ = order.refusal(of: Array(message.signature), keys: [FuzzKeys.coordinator], verifiedBatches: FuzzKeys.verifiedBatches)
    _ = try? FuzzKeys.registry.bind(kind, name: name, payload: Array(payload))
    _ = try? (try? JSONDecoder().decode(Movement.self, from: payload))?.validated()
}

/// The handlers' work never runs here; only binding (payload decoding) is exercised.
struct ParticipantTransaction {}

enum FuzzKeys {
    nonisolated(unsafe) static let coordinator: VerifyingKey = {
        let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA/rr2KwGN4wddtZ+TJ5L9TJHp9Njfr8mBPfPi3VZEogk=\n-----END PUBLIC KEY-----\n"
        guard let key = try? VerifyingKey(pem: Array(pem.utf8)) else { fatalError("the example key does not load") }
        return key
    }()

    /// As the participant keeps it: a signature of any length other than 64 is parsed as a batch seal.
    static let verifiedBatches = VerifiedOrderBatches()

    nonisolated(unsafe) static let registry: HandlerRegistry = {
        var registry = HandlerRegistry()
        for name in ["debit", "credit"] { registry.register(.action, name: name, payload: Movement.self) { _, _ in } }
        for name in ["refund", "reverse-credit"] { registry.register(.compensation, name: name, payload: Movement.self) { _, _ in } }
        return registry
    }()
}
