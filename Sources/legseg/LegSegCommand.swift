import ArgumentParser

@main
struct LegSegCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "legseg",
        abstract: "Find and label every leg muscle in MRI.",
        version: "0.1.0",
        subcommands: [SegmentCommand.self, TrainCommand.self, ExportCommand.self, InfoCommand.self, PhantomCommand.self, EvaluateCommand.self, BenchCommand.self])
}
