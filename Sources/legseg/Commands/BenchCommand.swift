import ArgumentParser
import Foundation
import LegSegIO

/// `legseg bench ...`: benchmarks that print figures (and, with --json, one JSON object per line).
/// They never assert on time: compare ratios against a reference run in the same process or script.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed and memory (prints figures; compare ratios, not absolute times).",
        subcommands: [BenchIOCommand.self, BenchEngineCommand.self, BenchSegmentCommand.self])
}

/// Reading speed of the NIfTI reader. `Benchmarks/bench_io.py` runs it beside nibabel's `get_fdata()` on the
/// same file and prints the ratio.
struct BenchIOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "io", abstract: "Time reading a NIfTI file into float32 voxels (median of repeated reads).")

    @Argument(help: "NIfTI file to read.", completion: .file(extensions: ["nii", "gz"]))
    var file: String

    @Option(help: "Number of timed reads (after one warm-up read).")
    var repeats: Int = 10

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: file)
        var image = try NIfTIReader.read(url)  // warm-up: page cache and allocator
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            image = try NIfTIReader.read(url)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let median = times.sorted()[times.count / 2]
        let megabytes = Double(image.volume.count * 4) / 1_048_576
        if json {
            print(JSONLine.encode([
                "mode": .string("read"), "file": .string(file), "shape": .array(image.volume.shape.map { .number(Double($0)) }),
                "ms": .number((median * 1000).rounded() / 1000), "repeats": .number(Double(repeats)),
                "peak_rss_mb": .number(ResourceUsage.peakResidentMB),
            ]))
        } else {
            print(String(format: "%@: read %@ voxels (%.1f MiB as float32) in %.2f ms (median of %d), peak RSS %.0f MiB",
                         file, image.volume.shape.map(String.init).joined(separator: "x"), megabytes, median, repeats,
                         ResourceUsage.peakResidentMB))
        }
    }
}

/// Process resource figures for benchmarks.
enum ResourceUsage {
    /// Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB, macOS in bytes).
    static var peakResidentMB: Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576
        #endif
    }
}
