import ArgumentParser

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle-bench",
        abstract: "Settle's benchmarks, each printed beside the floor measured in the same run.",
        subcommands: [
            LogBenchmark.self, LogWriterCommand.self, SeedCommand.self, FloorCommand.self, SettleEndToEndCommand.self,
            SigningBenchmark.self, HoldCommand.self, AwaitHeldCommand.self, BooksCommand.self, UndecidedLogCommand.self,
        ]
    )
}
