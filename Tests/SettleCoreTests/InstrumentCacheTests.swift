import SettleCore
import Synchronization
import Testing

@Suite("an instrument is made once per label and dimensions, and the cache stays bounded")
struct InstrumentCacheTests {
    final class Made: Sendable {
        let name: String
        init(_ name: String) { self.name = name }
    }

    @Test func eachLabelAndDimensionsIsMadeOnce() {
        let makes = Atomic<Int>(0)
        let cache = InstrumentCache { label, dimensions in
            makes.add(1, ordering: .relaxed)
            return Made(label + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
        }
        let first = cache[label: "settle_transfers_total", dimensions: [("outcome", "COMMITTED")]]
        let again = cache[label: "settle_transfers_total", dimensions: [("outcome", "COMMITTED")]]
        let other = cache[label: "settle_transfers_total", dimensions: [("outcome", "ABORTED")]]
        // Same flattened strings, different split between name and value: not the same instrument.
        let shifted = cache[label: "settle_transfers_total", dimensions: [("outcomeA", "BORTED")]]
        #expect(first === again)
        #expect(first !== other && other !== shifted)
        #expect(other.name == "settle_transfers_totaloutcome=ABORTED")
        #expect(makes.load(ordering: .relaxed) == 3)
        #expect(cache.count == 3)
    }

    @Test func pastItsBoundInstrumentsAreMadeUncached() {
        let cache = InstrumentCache { label, _ in Made(label) }
        for index in 0..<(InstrumentCache<Made>.entriesMax + 10) { _ = cache[label: "l\(index)"] }
        #expect(cache.count == InstrumentCache<Made>.entriesMax)
        let beyond = cache[label: "beyond"]
        #expect(beyond.name == "beyond")
        #expect(cache[label: "beyond"] !== beyond)
    }
}
