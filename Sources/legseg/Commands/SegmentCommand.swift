import ArgumentParser
import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegIO
import LegSegModels
import LegSegPipeline

/// `legseg segment`: label every leg muscle of NIfTI scans (the SegmentData pipeline).
struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Label the leg muscles of NIfTI scans (standardized left/right label table).",
        discussion: """
        For each input NAME.nii[.gz] writes NAME_labels.nii.gz (on the input's grid, with its exact header \
        geometry), NAME_labels.txt (ITK-SNAP label descriptions), NAME_stats.csv and NAME_stats.json (per-label \
        voxels, volume in ml, mean and median intensity; fat fraction with --water and --fat) and NAME_qc.png \
        (a slice montage with the labels). Inputs may be files or folders; outputs newer than their input are \
        skipped unless --force; --shard I/N processes every N-th input from the I-th (1-based) for job arrays.
        """)

    enum Device: String, ExpressibleByArgument, CaseIterable { case cpu, gpu, auto }
    enum PrecisionOption: String, ExpressibleByArgument, CaseIterable { case f32, bf16 }

    @Argument(help: "NIfTI files or folders of them.", completion: .file(extensions: ["nii", "gz"]))
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output label file (one input only). Default: NAME_labels.nii.gz beside the input.")
    var output: String?

    @Option(help: "Folder with the networks: thigh.json, lowerleg.json and classifier.json (each with its .safetensors). Default: the bundled networks.")
    var models: String?

    @Option(help: "Body region: legs (the classifier finds thigh and lower-leg slices), thigh or lowerleg (the whole scan is that region).")
    var region: RegionChoice = .legs

    @Option(name: .customLong("max-memory"), help: "Memory budget for network patches, in GB.")
    var maxMemory: Double = 1.5

    @Option(name: .customLong("context-mm"), help: "Background kept around each leg in-plane as context for the network (mm).")
    var contextMM: Double = 50

    @Option(help: "Compute device: cpu, gpu or auto (auto uses the GPU when a GPU backend exists).")
    var device: Device = .auto

    @Option(help: "Network precision: f32, or bf16 (faster on CPUs with AVX-512 BF16/AMX).")
    var precision: PrecisionOption = .f32

    @Flag(help: "Also run every patch mirrored left/right and average (slower, usually smoother).")
    var mirror = false

    @Option(help: "Dixon water image for fat fractions (one input only).") var water: String?
    @Option(help: "Dixon fat image for fat fractions (one input only).") var fat: String?

    @Option(help: "Which volume of a 4D input, from 0.") var volume: Int = 0
    @Flag(help: "Redo inputs whose outputs are newer than the input.") var force = false
    @Option(help: "Process shard I of N (1-based), e.g. 3/10.") var shard: String?
    @Flag(help: "Print a JSON summary per input on standard output.") var json = false
    @Flag(name: .shortAndLong, help: "No progress output.") var quiet = false

    func validate() throws {
        guard maxMemory > 0.1 else { throw ValidationError("--max-memory must be more than 0.1 GB") }
        guard contextMM >= 0, contextMM <= 500 else { throw ValidationError("--context-mm must lie in 0...500") }
        if output != nil || water != nil || fat != nil {
            guard inputs.count == 1, !isDirectory(inputs[0]) else { throw ValidationError("-o, --water and --fat need exactly one input file") }
        }
        guard (water == nil) == (fat == nil) else { throw ValidationError("--water and --fat go together") }
        if let shard { _ = try parseShard(shard) }
        guard volume >= 0 else { throw ValidationError("--volume must be 0 or more") }
    }

    func parseShard(_ text: String) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else {
            throw ValidationError("--shard must be I/N with 1 ≤ I ≤ N, e.g. 2/8")
        }
        return (parts[0], parts[1])
    }

    func run() throws {
        if device == .gpu {
            Terminal.error(SegmentationError(file: nil, message: "no GPU backend is available in this build; use --device cpu (or auto)"))
            throw ExitCode(ExitCodes.badInput)
        }
        var files = try expandInputs()
        if let shard {
            let (i, n) = try parseShard(shard)
            files = files.enumerated().filter { $0.offset % n == i - 1 }.map(\.element)
        }
        let segmenter: Segmenter
        do { segmenter = try loadSegmenter() } catch {
            Terminal.error(error)
            throw ExitCode(ExitCodes.badInput)
        }
        let progress = (quiet || json || !Terminal.isInteractive) ? nil : TerminalProgress()
        segmenter.progress = progress
        var failures = 0
        for file in files {
            let outputURL = URL(fileURLWithPath: output ?? SegmentCommand.defaultOutput(for: file))
            if !force, SegmentCommand.isUpToDate(output: outputURL, input: URL(fileURLWithPath: file)) {
                if !quiet && !json { Terminal.note("\(file): skipped, \(outputURL.relativePath) is newer (use --force)") }
                continue
            }
            do {
                try segment(file, to: outputURL, with: segmenter, progress: progress)
            } catch {
                progress?.finish()
                failures += 1
                Terminal.error(error)
            }
        }
        if failures > 0 { throw ExitCode(ExitCodes.badInput) }
    }

    func segment(_ file: String, to outputURL: URL, with segmenter: Segmenter, progress: TerminalProgress?) throws {
        let start = Date()
        progress?.begin(file)
        let image = try NIfTIReader.read(URL(fileURLWithPath: file), volume: volume)
        for w in image.warnings { Terminal.warn("\(file): \(w)") }
        let (labels, report) = try segmenter.segment(image.volume, file: file)
        for w in report.warnings { Terminal.warn("\(file): \(w)") }
        progress?.finish()

        // Everything is computed before anything is written; each file is written atomically.
        // Side files share the label map's name without "_labels.nii.gz" (or without its extension).
        let labelsSuffix = "_labels.nii.gz"
        let base = outputURL.path.hasSuffix(labelsSuffix) ? String(outputURL.path.dropLast(labelsSuffix.count)) : SegmentCommand.stem(of: outputURL.path)
        let labels32 = labels.map { Int32($0) }
        let names = LabelTables.names(of: .standardized)
        var waterVolume: Volume<Float>?, fatVolume: Volume<Float>?
        if let water, let fat {
            waterVolume = try NIfTIReader.read(URL(fileURLWithPath: water)).volume
            fatVolume = try NIfTIReader.read(URL(fileURLWithPath: fat)).volume
        }
        let stats = try MuscleStatistics.compute(labels: labels32, labelsFile: outputURL.relativePath, image: image.volume, imageFile: file,
                                                 water: waterVolume, waterFile: water ?? "water", fat: fatVolume, fatFile: fat ?? "fat")
        let montage = try QCMontage.render(image: image.volume, labels: labels32, options: QCMontageOptions(colors: LabelTables.colors),
                                           imageFile: file, labelsFile: outputURL.relativePath)
        try NIfTIWriter.write(labels, to: outputURL, like: image.header, description: "LegSeg labels (Muscles_leg)")
        try AtomicFile.write(Data(LabelTables.itkSnapDescription().utf8), to: URL(fileURLWithPath: base + "_labels.txt"))
        try AtomicFile.write(Data(stats.csv(names: names).utf8), to: URL(fileURLWithPath: base + "_stats.csv"))
        try AtomicFile.write(Data(stats.json(names: names, pretty: true).utf8), to: URL(fileURLWithPath: base + "_stats.json"))
        try PNGWriter.write(montage, to: URL(fileURLWithPath: base + "_qc.png"))

        let seconds = Date().timeIntervalSince(start)
        if json {
            print(JSONLine.encode([
                "input": .string(file), "labels": .string(outputURL.relativePath),
                "legs": .array(report.legs.map { .string($0.side.rawValue) }),
                "regions": .object(Dictionary(uniqueKeysWithValues: report.regionSlices.map { ($0.key.rawValue, JSONValue.array([.number(Double($0.value.lowerBound)), .number(Double($0.value.upperBound))])) })),
                "slice_regions": report.sliceRegions.map { .array($0.map { .string($0.name) }) } ?? .null,
                "labels_found": .number(Double(stats.labels.count)), "patches": .number(Double(report.patches)),
                "seconds": .number((seconds * 100).rounded() / 100),
                "timings": .object(Dictionary(report.timings.map { ($0.stage, JSONValue.number(($0.seconds * 1000).rounded() / 1000)) }, uniquingKeysWith: { a, _ in a })),
                "warnings": .array(report.warnings.map { .string($0) }),
            ]))
            fflush(nil)  // all C streams, i.e. stdout; a line per input as it finishes, also when stdout is a pipe
        } else if !quiet {
            Terminal.note(String(format: "%@: %d labels, legs %@, %.1f s → %@", file, stats.labels.count,
                                 report.legs.map(\.side.rawValue).joined(separator: "+"), seconds, outputURL.relativePath))
        }
    }

    func loadSegmenter() throws -> Segmenter {
        let folder: URL
        if let models { folder = URL(fileURLWithPath: models) } else if let bundled = BundledModels.folder {
            folder = bundled
        } else {
            throw SegmentationError(file: nil, message: "the bundled networks were not found beside the legseg binary (LegSeg_LegSegModels.resources); set LEGSEG_MODELS or pass --models DIR (thigh.json, lowerleg.json, classifier.json)")
        }
        var options = SegmentationOptions()
        options.region = region
        options.memoryBudgetBytes = maxMemory * 1e9
        options.contextMarginMM = contextMM
        options.mirror = mirror
        return try SegmenterLoading.load(folder: folder, precision: precision == .bf16 ? .bf16 : .f32, options: options)
    }

    func expandInputs() throws -> [String] {
        var out: [String] = []
        for input in inputs {
            if isDirectory(input) {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: input)) ?? []
                out += names.filter { ($0.hasSuffix(".nii") || $0.hasSuffix(".nii.gz")) && !$0.contains("_labels.nii") }
                    .sorted().map { (input as NSString).appendingPathComponent($0) }
            } else {
                out.append(input)
            }
        }
        return out
    }

    func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    static func stem(of path: String) -> String {
        for ext in [".nii.gz", ".nii", ".gz"] where path.hasSuffix(ext) { return String(path.dropLast(ext.count)) }
        return path
    }

    static func defaultOutput(for input: String) -> String { stem(of: input) + "_labels.nii.gz" }

    static func isUpToDate(output: URL, input: URL) -> Bool {
        let fm = FileManager.default
        guard let o = try? fm.attributesOfItem(atPath: output.path)[.modificationDate] as? Date,
              let i = try? fm.attributesOfItem(atPath: input.path)[.modificationDate] as? Date else { return false }
        return o > i
    }
}

extension RegionChoice: ExpressibleByArgument {}


/// A one-line progress display on stderr (terminal only).
final class TerminalProgress: SegmentationProgress {
    private var file = ""
    private var stageName = ""
    func begin(_ file: String) { self.file = file }
    func stage(_ name: String) { stageName = name; draw("") }
    func advance(done: Int, of total: Int) {
        let width = 24, filled = total > 0 ? width * done / total : 0
        draw(" [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total)")
    }
    func finish() { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    private func draw(_ suffix: String) {
        FileHandle.standardError.write(Data("\r\u{1B}[K\(file): \(stageName)\(suffix)".utf8))
    }
}
