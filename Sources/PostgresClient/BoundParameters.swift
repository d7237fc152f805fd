import CLibPQ

/// Parameters laid out the way `PQexecParams` wants them: one contiguous buffer (text values
/// NUL-terminated) and parallel arrays of types, lengths and formats.
struct BoundParameters {
    private var buffer: [UInt8] = []
    private var offsets: [Int?] = []
    private(set) var types: [Oid] = []
    private var lengths: [Int32] = []
    private var formats: [Int32] = []

    /// libpq's protocol counts parameters in 16 bits.
    static let countMax = 65_535

    init(_ parameters: PostgresParameters) throws(PostgresError) {
        guard parameters.values.count <= Self.countMax else {
            throw PostgresError(
                code: .invalidParameter,
                message: "\(parameters.values.count) parameters; PostgreSQL accepts at most \(Self.countMax)"
            )
        }
        for value in parameters.values {
            guard let value else {
                offsets.append(nil)
                types.append(Oid(PostgresTypeOID.unspecified))
                lengths.append(0)
                formats.append(0)
                continue
            }
            let parameter = try value.postgresParameter()
            offsets.append(buffer.count)
            buffer.append(contentsOf: parameter.bytes)
            if !parameter.isBinary { buffer.append(0) }
            types.append(Oid(parameter.typeOID))
            lengths.append(Int32(parameter.bytes.count))
            formats.append(parameter.isBinary ? 1 : 0)
        }
    }

    func withLibPQArrays<R>(
        _ body: (
            Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
        ) -> R
    ) -> R {
        buffer.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress.map { UnsafeRawPointer($0) }
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard let offset else { return nil }
                // An empty buffer has no base address; an empty binary value is still a non-NULL value.
                return (base ?? UnsafeRawPointer(bitPattern: 1)!).advanced(by: offset).assumingMemoryBound(to: CChar.self)
            }
            return types.withUnsafeBufferPointer { types in
                values.withUnsafeBufferPointer { values in
                    lengths.withUnsafeBufferPointer { lengths in
                        formats.withUnsafeBufferPointer { formats in
                            body(
                                Int32(offsets.count), types.baseAddress, values.baseAddress,
                                lengths.baseAddress, formats.baseAddress
                            )
                        }
                    }
                }
            }
        }
    }
}
