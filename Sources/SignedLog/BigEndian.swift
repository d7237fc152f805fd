/// Appends fixed-width big-endian integers: every integer in the log's byte format is big-endian.
public struct BigEndianWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: some FixedWidthInteger) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ raw: some Sequence<UInt8>) {
        bytes.append(contentsOf: raw)
    }
}

/// Reads fixed-width big-endian integers from a byte slice; callers check lengths first, so a
/// short read is a programming error.
public struct BigEndianReader {
    private let bytes: ArraySlice<UInt8>
    public private(set) var position: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    public var remaining: Int { bytes.endIndex - position }

    public mutating func read<Value: FixedWidthInteger>(_: Value.Type = Value.self) -> Value {
        let size = MemoryLayout<Value>.size
        precondition(remaining >= size, "read of \(size) bytes with \(remaining) left")
        var value: Value = 0
        for byte in bytes[position..<position + size] { value = value << 8 | Value(byte) }
        position += size
        return value
    }

    public mutating func read(count: Int) -> ArraySlice<UInt8> {
        precondition(remaining >= count, "read of \(count) bytes with \(remaining) left")
        defer { position += count }
        return bytes[position..<position + count]
    }
}
