import Foundation

/// settled's configuration file, as `CoordinatorConfiguration.load` decodes it and `validate`
/// checks it before anything starts: no bytes may trap there; a configuration is refused with
/// an error that names the key, or accepted.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Data(UnsafeRawBufferPointer(start: start, count: count))
    guard let configuration = try? JSONDecoder().decode(CoordinatorConfiguration.self, from: bytes) else { return 0 }
    _ = try? configuration.validate()
    return 0
}
