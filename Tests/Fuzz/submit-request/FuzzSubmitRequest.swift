import Foundation
import SwiftProtobuf

/// A client's Submit as settled receives it: protobuf bytes, decoded, converted to a transfer
/// spec (SubmitRequestConversion.swift) and validated. No bytes may trap anywhere on that path,
/// and a spec that validates must then be safe wherever the coordinator relies on validation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSubmitRequest(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Data(UnsafeRawBufferPointer(start: start, count: count))
    guard let request = try? Settle_V1_SubmitRequest(serializedBytes: bytes) else { return 0 }
    guard let spec = try? TransferSpec(request) else { return 0 }
    guard (try? spec.validate(participants: ["bank-a", "bank-b", "bank-c"])) != nil else { return 0 }
    guard let admission = try? Admission(epoch: 1, nonce: 42) else { fatalError("a valid admission is refused") }
    for branch in spec.branches.indices {
        let gid = spec.gid(ofBranch: branch, coordinatorID: "fuzz-coordinator-32-bytes-long-0", admission: admission)
        guard (try? BranchGID(parsing: gid)) != nil else { fatalError("gid \(gid) of a valid spec does not parse") }
    }
    var transfer = TransferProtocol(
        branchCount: spec.branches.count, onPrepareTimeout: spec.policy.onPrepareTimeout ?? .abort,
        prepareSequence: spec.canonicalPrepareOrder
    )
    _ = try? transfer.start()
    return 0
}
