import SettleCore
import Testing

@Suite struct MessageOutboxTests {
    @Test func theWriterTakesEverythingWaitingAtOnceInOrder() async {
        let outbox = MessageOutbox<Int>()
        for message in 1...5 { outbox.yield(message) }
        #expect(await outbox.next() == [1, 2, 3, 4, 5], "one batch, in the order queued")
        outbox.yield(6)
        #expect(await outbox.next() == [6])
    }

    @Test func aParkedWriterIsWokenByTheFirstMessage() async {
        let outbox = MessageOutbox<Int>()
        async let batch = outbox.next()
        // Give the writer time to park; then one message must be enough to wake it.
        try? await Task.sleep(for: .milliseconds(20))
        outbox.yield(7)
        #expect(await batch == [7])
    }

    @Test func finishingDeliversWhatWaitsThenEndsAndRefusesMore() async {
        let outbox = MessageOutbox<Int>()
        outbox.yield(1)
        outbox.yield(2)
        outbox.finish()
        #expect(outbox.yield(3) == false, "a message after finish is refused, not silently queued")
        #expect(await outbox.next() == [1, 2], "messages queued before finish still reach the writer")
        #expect(await outbox.next() == nil)
    }

    @Test func finishingWakesAParkedWriterWithTheEnd() async {
        let outbox = MessageOutbox<Int>()
        async let batch = outbox.next()
        try? await Task.sleep(for: .milliseconds(20))
        outbox.finish()
        #expect(await batch == nil)
    }

    @Test func cancellingTheWriterEndsItsWait() async {
        let outbox = MessageOutbox<Int>()
        let writer = Task { await outbox.next() }
        try? await Task.sleep(for: .milliseconds(20))
        writer.cancel()
        #expect(await writer.value == nil)
        // The outbox itself is still open: a later writer gets later messages.
        outbox.yield(9)
        #expect(await outbox.next() == [9])
    }

    @Test func manyProducersLoseNothingAndEachOnesOrderHolds() async {
        let outbox = MessageOutbox<Int>()
        let producers = 8
        let perProducer = 500
        async let received: [Int] = {
            var all: [Int] = []
            while all.count < producers * perProducer, let batch = await outbox.next() { all += batch }
            return all
        }()
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    for sequence in 0..<perProducer { outbox.yield(producer * perProducer + sequence) }
                }
            }
        }
        let all = await received
        #expect(all.count == producers * perProducer)
        #expect(Set(all).count == all.count, "no message delivered twice")
        for producer in 0..<producers {
            let own = all.filter { $0 / perProducer == producer }
            #expect(own == own.sorted(), "producer \(producer)'s messages arrive in the order it sent them")
        }
    }
}
