/// Why the log refused an operation. Corruption names the segment file and byte offset of the
/// first frame that fails, and the check it fails.
public struct SignedLogError: Error, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case corrupted, unsealedTail, inUse, closed, failed, recordTooLarge, queueFull, fileSystem, key, database, deposed
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A sealed part of the log fails a check; the log must not be trusted or extended.
        public static let corrupted = Code(.corrupted)
        /// The audited log ends with records no seal covers (a live writer, or a crash not yet recovered).
        public static let unsealedTail = Code(.unsealedTail)
        /// Another process holds the log directory's lock.
        public static let inUse = Code(.inUse)
        public static let closed = Code(.closed)
        /// An earlier write or fsync failed; the log refuses appends until it is reopened (which
        /// recovers from the last seal), because after a failed fsync the file's state is unknown.
        public static let failed = Code(.failed)
        public static let recordTooLarge = Code(.recordTooLarge)
        public static let queueFull = Code(.queueFull)
        public static let fileSystem = Code(.fileSystem)
        public static let key = Code(.key)
        /// The PostgreSQL database holding the log refused or could not be reached.
        public static let database = Code(.database)
        /// Another coordinator took the log's lease (a higher epoch): this one must seal nothing
        /// more, and stop.
        public static let deposed = Code(.deposed)

        public var description: String { "\(base)" }
    }

    public let code: Code
    public let message: String
    /// The segment file name, for corruption.
    public let segment: String?
    /// The byte offset of the failing frame within `segment`.
    public let offset: Int?

    init(_ code: Code, _ message: String, segment: String? = nil, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.segment = segment
        self.offset = offset
    }

    static func corrupted(segment: String, offset: Int, _ reason: String) -> SignedLogError {
        SignedLogError(.corrupted, reason, segment: segment, offset: offset)
    }

    public var description: String {
        if let segment, let offset { return "segment \(segment), offset \(offset): \(message)" }
        if let segment { return "segment \(segment): \(message)" }
        return message
    }
}

extension SignedLogError {
    /// Wraps file-system and key errors so callers see one error type.
    static func wrapping<Value>(_ body: () throws -> Value) throws -> Value {
        do {
            return try body()
        } catch let error as SignedLogError {
            throw error
        } catch let stop as LogReader.StopReading {
            throw stop
        } catch let error as FileSystemError {
            throw SignedLogError(.fileSystem, error.description)
        } catch let error as KeyError {
            throw SignedLogError(.key, error.description)
        } catch {
            throw SignedLogError(.key, "\(error)")
        }
    }
}
