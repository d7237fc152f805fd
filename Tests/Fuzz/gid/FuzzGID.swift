import Foundation

/// Gids arrive from participants (InDoubt, WaitsFor) and from logs: parsing any bytes must not
/// trap, and a gid that parses must be canonical — print back to the same text and parse to the
/// same value — or two texts could name one branch.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGID(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let gid = try? BranchGID(parsing: text) else { return 0 }
    guard gid.description == text else { fatalError("\(text.debugDescription) parses but prints as \(gid.description.debugDescription)") }
    guard (try? BranchGID(parsing: gid.description)) == gid else { fatalError("\(text.debugDescription) does not round-trip") }
    return 0
}
