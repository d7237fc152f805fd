import Foundation

/// Receipts, tree heads and consistency proofs come from counterparties and auditors: any bytes
/// handed to `settle audit check-receipt` or `check-consistency` must be refused with a reason,
/// never trap. The first byte picks what the rest is read as.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReceipt(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start + 1, count: count - 1))
    switch start.load(as: UInt8.self) % 3 {
    case 0:
        if let receipt = try? CanonicalJSON.decode(Receipt.self, from: bytes, what: "receipt") {
            _ = try? receipt.verify(with: FuzzKey.example)
        }
    case 1:
        if let proof = try? CanonicalJSON.decode(ConsistencyProof.self, from: bytes, what: "proof") {
            try? proof.verify(with: LogKeys([FuzzKey.example]))
        }
    default:
        if let head = try? CanonicalJSON.decode(TreeHead.self, from: bytes, what: "head") {
            _ = head.problem(verifiedWith: FuzzKey.example)
            _ = head.seal?.signedMessage
        }
    }
    return 0
}

enum FuzzKey {
    nonisolated(unsafe) static let example: VerifyingKey = {
        let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA/rr2KwGN4wddtZ+TJ5L9TJHp9Njfr8mBPfPi3VZEogk=\n-----END PUBLIC KEY-----\n"
        guard let key = try? VerifyingKey(pem: Array(pem.utf8)) else { fatalError("the example key does not load") }
        return key
    }()
}
