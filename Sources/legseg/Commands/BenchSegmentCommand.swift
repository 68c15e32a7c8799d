import ArgumentParser
import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegIO
import LegSegPipeline

/// `legseg bench segment FILE...`: the whole pipeline end to end, wall time per stage and peak memory.
/// By default with the bundled networks (classifier included, `--region legs`), as `legseg segment` runs; with
/// `--config small|spec` a random-weight network of that configuration at the scan's voxel size stands in (the work
/// per voxel is the same as with trained weights, so those figures stand for the pipeline's speed, not accuracy).
struct BenchSegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Time the segmentation pipeline end to end (per stage) with peak memory.")

    @Argument(help: "NIfTI files to segment (nothing is written).") var files: [String]
    @Option(help: "Networks: bundled (the shipped ones), or a random-weight small or spec UNet.") var config: String = "bundled"
    @Option(help: "Folder with trained networks (as for `legseg segment --models`).") var models: String?
    @Option(help: "Region: legs (classifier), thigh or lowerleg.") var region: RegionChoice = .legs
    @Option(name: .customLong("max-memory"), help: "Patch memory budget in GB.") var maxMemory: Double = 1.5
    @Option(help: "Network precision: f32 or bf16.") var precision: String = "f32"
    @Flag(help: "One JSON object per file.") var json = false

    var trained: Bool { models != nil || config == "bundled" }

    func validate() throws {
        guard config == "bundled" || BenchEngineCommand.configuration(named: config) != nil else {
            throw ValidationError("unknown --config \(config) (bundled, small, spec)")
        }
        guard trained || region != .legs else { throw ValidationError("a random-weight network needs --region thigh or lowerleg") }
        guard Precision(rawValue: precision) != nil else { throw ValidationError("--precision must be f32 or bf16") }
    }

    func run() throws {
        let target: SegmentationRegion = region == .lowerleg ? .lowerLeg : .thigh
        let segmenter: Segmenter
        if trained {
            var command = try SegmentCommand.parse(["."] + (models.map { ["--models", $0] } ?? []) + ["--region", region.rawValue, "--precision", precision])
            command.maxMemory = maxMemory
            segmenter = try command.loadSegmenter()
        } else {
            let unetConfig = BenchEngineCommand.configuration(named: config)!
            let unet = try UNet(configuration: unetConfig, weights: RandomWeights.make(unetConfig, seed: 1), backend: try DNNLBackend(),
                                precision: Precision(rawValue: precision)!)
            let names = target == .thigh ? LabelTables.thighNetwork : LabelTables.lowerLegNetwork
            let map = LabelTables.standardizedLabels(forClassNames: names + Array(repeating: "", count: max(0, unetConfig.classes - names.count)))
            let network = RegionNetwork(region: target, unet: unet, normalization: InputNormalization(rule: "uniform", bins: 1024),
                                        outputLabels: [.left: map.left, .right: map.right])
            var options = SegmentationOptions()
            options.region = region
            options.memoryBudgetBytes = maxMemory * 1e9
            segmenter = Segmenter(networks: [target: network], classifier: nil, options: options)
        }
        for file in files {
            let start = DispatchTime.now().uptimeNanoseconds
            let image = try NIfTIReader.read(URL(fileURLWithPath: file))
            let read = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let (_, report) = try segmenter.segment(image.volume, file: file)
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let stages = [("read", read)] + report.timings.map { ($0.stage, $0.seconds) }
            if json {
                print(JSONLine.encode([
                    "mode": .string("segment"), "file": .string(file), "shape": .array(image.volume.shape.map { .number(Double($0)) }),
                    "config": .string(models == nil ? config : "models"),
                    "regions": .object(Dictionary(report.regionSlices.map { ($0.key.rawValue, JSONValue.array([.number(Double($0.value.lowerBound)), .number(Double($0.value.upperBound))])) }, uniquingKeysWith: { a, _ in a })), "precision": .string(precision),
                    "patch": .array((report.patchSize.values.first ?? []).reversed().map { .number(Double($0)) }),
                    "patches": .number(Double(report.patches)), "seconds": .number((total * 1000).rounded() / 1000),
                    "stages": .object(Dictionary(stages.map { ($0.0, JSONValue.number(($0.1 * 1000).rounded() / 1000)) }, uniquingKeysWith: { a, _ in a })),
                    "peak_rss_mb": .number(ResourceUsage.peakResidentMB.rounded()),
                ]))
            } else {
                let parts = stages.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", ")
                print(String(format: "%@: %.2f s total (%@); %d patches of %@ (z,y,x); peak RSS %.0f MiB", file, total, parts,
                             report.patches, (report.patchSize.values.first ?? []).reversed().map(String.init).joined(separator: "x"),
                             ResourceUsage.peakResidentMB))
            }
        }
    }
}
