/// A checkpoint record's payload: any bytes decode or are refused as a defect, never trap; and a
/// payload that decodes encodes back to the very same bytes (one meaning per payload).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard case .success(let checkpoint) = Checkpoint.decode(bytes) else { return 0 }
    guard checkpoint.encoded() == bytes else { fatalError("a decoded checkpoint encodes to other bytes") }
    return 0
}
