/// A log segment's bytes, as opening the log, `settle audit verify` and `settle audit dump` read
/// them from disk: any bytes must decode to a header defect or a scan result, never a trap; and
/// the scan never reports records past the last valid seal.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSegment(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard case .success(let header) = SegmentHeader.decode(bytes) else { return 0 }
    let result = SegmentScanner(keys: nil).scan(bytes, header: header) { _, _, _ in }
    guard result.sealedEndOffset <= bytes.count else { fatalError("sealed end \(result.sealedEndOffset) past \(bytes.count) bytes") }
    return 0
}
