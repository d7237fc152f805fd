/// A checkpoint record's content: every transfer unfinished when it was taken, each with the
/// state its owner needs to carry on (opaque to the log).
///
/// Why state and not only ids: recovery reads from the last checkpoint onward, so the records that
/// started an unfinished transfer may lie before it; the snapshot lets recovery resume without
/// reading older history, so start-up time depends on the checkpoint interval, not the log's age.
public struct Checkpoint: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var id: String
        public var state: [UInt8]

        public init(id: String, state: [UInt8]) {
            self.id = id
            self.state = state
        }
    }

    public var unfinished: [Entry]

    public init(unfinished: [Entry]) { self.unfinished = unfinished }

    /// Ids are bounded by their u16 length field; a longer one is a caller bug.
    static let idBytesMax = 1024

    /// `count u32 | (idLength u16 | id UTF-8 | stateLength u32 | state)*`, big-endian.
    public func encoded() -> [UInt8] {
        var writer = BigEndianWriter()
        writer.write(UInt32(unfinished.count))
        for entry in unfinished {
            let id = Array(entry.id.utf8)
            precondition(!id.isEmpty && id.count <= Self.idBytesMax, "checkpoint id of \(id.count) bytes")
            writer.write(UInt16(id.count))
            writer.write(id)
            writer.write(UInt32(entry.state.count))
            writer.write(entry.state)
        }
        return writer.bytes
    }

    public static func decode(_ payload: [UInt8]) -> Result<Checkpoint, CheckpointDefect> {
        var reader = BigEndianReader(payload[...])
        guard reader.remaining >= 4 else { return .failure(CheckpointDefect("shorter than its entry count")) }
        let count = Int(reader.read(UInt32.self))
        var entries: [Entry] = []
        entries.reserveCapacity(min(count, payload.count / 7))
        for index in 0..<count {
            guard reader.remaining >= 2 else { return .failure(CheckpointDefect("entry \(index) is cut short")) }
            let idLength = Int(reader.read(UInt16.self))
            guard idLength > 0, idLength <= idBytesMax, reader.remaining >= idLength + 4 else {
                return .failure(CheckpointDefect("entry \(index) has a bad id length \(idLength)"))
            }
            guard let id = String(validating: reader.read(count: idLength), as: UTF8.self) else {
                return .failure(CheckpointDefect("entry \(index) id is not UTF-8"))
            }
            let stateLength = Int(reader.read(UInt32.self))
            guard reader.remaining >= stateLength else {
                return .failure(CheckpointDefect("entry \(index) state length \(stateLength) runs past the payload"))
            }
            entries.append(Entry(id: id, state: Array(reader.read(count: stateLength))))
        }
        guard reader.remaining == 0 else {
            return .failure(CheckpointDefect("\(reader.remaining) bytes follow the last entry"))
        }
        return .success(Checkpoint(unfinished: entries))
    }
}

public struct CheckpointDefect: Error, CustomStringConvertible {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
