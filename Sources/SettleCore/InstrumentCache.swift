import Synchronization

/// Metric instruments made once per label and dimensions, then reused.
///
/// Why: making a swift-metrics instrument asks the backend's registry for it, under the
/// registry's lock and with its names validated, every time; on a per-transfer path that was
/// several lookups per transfer. The dimensions' values come from configuration and from the
/// code (participant names, outcomes), never from a request; `entriesMax` bounds the cache
/// anyway, and past it an instrument is made as before, uncached.
public final class InstrumentCache<Instrument: Sendable>: Sendable {
    public static var entriesMax: Int { 1024 }

    private let make: @Sendable (_ label: String, _ dimensions: [(String, String)]) -> Instrument
    private let instruments = Mutex<[[String]: Instrument]>([:])

    public init(_ make: @escaping @Sendable (_ label: String, _ dimensions: [(String, String)]) -> Instrument) {
        self.make = make
    }

    public subscript(label label: String, dimensions dimensions: [(String, String)] = []) -> Instrument {
        var key = [label]
        for (name, value) in dimensions {
            key.append(name)
            key.append(value)
        }
        if let cached = instruments.withLock({ $0[key] }) { return cached }
        let instrument = make(label, dimensions)
        return instruments.withLock { cache in
            if let raced = cache[key] { return raced }
            if cache.count < Self.entriesMax { cache[key] = instrument }
            return instrument
        }
    }

    public var count: Int { instruments.withLock { $0.count } }
}
