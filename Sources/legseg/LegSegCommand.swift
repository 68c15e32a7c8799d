import ArgumentParser
import LegSegEngine

@main
struct LegSegCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "legseg",
        abstract: "Find and label every leg muscle in MRI.",
        version: "0.1.0",
        subcommands: [SegmentCommand.self, TrainCommand.self, ExportCommand.self, InfoCommand.self, PhantomCommand.self, EvaluateCommand.self, BenchCommand.self])

    /// ArgumentParser's entry point, after the allocator policy that tensor work needs (`HostMemoryPolicy`).
    static func main() async {
        HostMemoryPolicy.retainLargeAllocations()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
