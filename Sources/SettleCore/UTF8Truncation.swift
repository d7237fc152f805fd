extension String {
    /// At most `bytesMax` bytes of UTF-8, cut at a scalar boundary so the result is still valid
    /// text: how every bounded reason and state Settle sends or seals is shortened.
    public func truncated(toUTF8Bytes bytesMax: Int) -> String {
        guard utf8.count > bytesMax else { return self }
        var bytes = Array(utf8.prefix(max(0, bytesMax)))
        while !bytes.isEmpty, String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
