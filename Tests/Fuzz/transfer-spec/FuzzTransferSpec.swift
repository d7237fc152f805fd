import Foundation

/// A transfer as logged in ACCEPTED and in checkpoints (JSON), and as Submit validates it: no
/// bytes may trap while decoding or validating, and a spec that validates must then be safe to
/// use everywhere the coordinator relies on validation: every branch's gid formats (its
/// precondition), the canonical prepare order is a permutation, and the protocol machine starts.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTransferSpec(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(UnsafeRawBufferPointer(start: start, count: count))
    guard let spec = try? JSONDecoder().decode(TransferSpec.self, from: data) else { return 0 }
    guard (try? spec.validate(participants: ["bank-a", "bank-b", "bank-c"])) != nil else { return 0 }
    let admission = (try? Admission(epoch: 1, nonce: 0xFFFF_FFFF_FFFF_FFFF))!
    for branch in spec.branches.indices {
        let gid = spec.gid(ofBranch: branch, coordinatorID: "fuzz-coordinator-32-bytes-long-0", admission: admission)
        guard gid.utf8.count <= 199 else { fatalError("gid of \(gid.utf8.count) bytes") }
    }
    var transfer = TransferProtocol(
        branchCount: spec.branches.count, onPrepareTimeout: spec.policy.onPrepareTimeout ?? .abort, prepareSequence: spec.canonicalPrepareOrder
    )
    _ = try? transfer.start()
    return 0
}
