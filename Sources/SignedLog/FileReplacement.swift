#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Replaces a small file whole, so that a reader sees the old content or the new, never a mix:
/// written beside it, synced, renamed over it (settled's published tree head uses it). The
/// blocking calls run on a thread of their own, as the log's do.
public enum FileReplacement {
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) async throws {
        try await onDedicatedThread(named: "settle-file-replace") {
            let temporary = path + ".publishing"
            let descriptor = try FileDescriptorIO.openFile(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
            defer { close(descriptor) }
            try FileDescriptorIO.writeAll(descriptor, bytes, at: 0, path: temporary)
            try FileDescriptorIO.syncAll(descriptor, path: temporary)
            try FileDescriptorIO.renameFile(temporary, to: path)
        }
    }
}
