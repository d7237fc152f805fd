import Testing

@testable import SettleCoordinator

@Suite struct ContentionMemoryTests {
    let start = ContinuousClock.now

    @Test func aDeadlockOrdersTransfersOverTwoOfItsParticipantsForTheWindow() {
        let memory = ContentionMemory()
        #expect(!memory.isContended(["bank-a", "bank-b"], now: start), "nothing deadlocked yet")
        memory.noteDeadlock(among: ["bank-a", "bank-b", "bank-c"], now: start)
        let soon = start + .seconds(1)
        #expect(memory.isContended(["bank-a", "bank-b"], now: soon))
        #expect(memory.isContended(["bank-c", "bank-a", "bank-d"], now: soon), "any two of the deadlock's participants")
        #expect(!memory.isContended(["bank-a", "bank-d"], now: soon), "bank-d deadlocked with nobody")
        #expect(!memory.isContended(["bank-a"], now: soon), "one participant cannot deadlock across databases")
        #expect(!memory.isContended(["bank-a", "bank-b"], now: start + ContentionMemory.window), "the window has passed")
    }

    @Test func aNewDeadlockRenewsTheWindow() {
        let memory = ContentionMemory()
        memory.noteDeadlock(among: ["bank-a", "bank-b"], now: start)
        memory.noteDeadlock(among: ["bank-b", "bank-a"], now: start + .seconds(50))
        #expect(memory.isContended(["bank-a", "bank-b"], now: start + .seconds(100)))
        #expect(!memory.isContended(["bank-a", "bank-b"], now: start + .seconds(111)))
    }

    @Test func aDeadlockWithinOneParticipantOrdersNothing() {
        let memory = ContentionMemory()
        memory.noteDeadlock(among: ["bank-a"], now: start)
        #expect(!memory.isContended(["bank-a", "bank-b"], now: start))
    }
}
