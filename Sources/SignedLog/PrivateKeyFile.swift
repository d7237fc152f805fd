#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading and writing private key files with owner-only permissions.
public enum PrivateKeyFile {
    /// Reads `path`, checking the permissions of the very file descriptor it reads (no race
    /// between the check and the read). Any group or other permission bit refuses the file.
    public static func readOwnerOnly(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw KeyError("cannot open private key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw KeyError("cannot stat private key file \(path): \(String(cString: strerror(errno)))")
        }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw KeyError(
                "private key file \(path) has mode \(String(permissions, radix: 8).leftPadded(to: 4)), "
                    + "so group or others can access it; run: chmod 600 \(path)"
            )
        }
        return try FileDescriptorIO.readAll(descriptor, path: path, bytesMax: 64 << 10)
    }

    /// Creates `path` with mode 0600 and writes `bytes`, refusing to replace an existing file
    /// (a key that seals a log must never be overwritten by accident).
    public static func create(_ path: String, bytes: [UInt8], mode: mode_t) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            let reason = errno == EEXIST ? "it already exists; Settle never overwrites a key" : String(cString: strerror(errno))
            throw KeyError("cannot create \(path): \(reason)")
        }
        defer { close(descriptor) }
        // umask can only remove bits; fchmod makes the mode exactly what was asked.
        guard fchmod(descriptor, mode) == 0 else {
            throw KeyError("cannot set mode of \(path): \(String(cString: strerror(errno)))")
        }
        try FileDescriptorIO.writeAll(descriptor, bytes, at: 0, path: path)
        guard fsync(descriptor) == 0 else {
            throw KeyError("cannot fsync \(path): \(String(cString: strerror(errno)))")
        }
    }
}
