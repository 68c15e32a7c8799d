import ArgumentParser
import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegIO
import LegSegPipeline

/// `legseg bench segment FILE...`: the whole pipeline end to end, wall time per stage and peak memory.
/// Without --models it uses a random-weight network of the chosen configuration: the work per voxel is the same
/// as with trained weights, so the figures stand for the pipeline's speed (not its accuracy).
struct BenchSegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Time the segmentation pipeline end to end (per stage) with peak memory.")

    @Argument(help: "NIfTI files to segment (nothing is written).") var files: [String]
    @Option(help: "Network configuration when no --models: small or spec.") var config: String = "small"
    @Option(help: "Folder with trained networks (as for `legseg segment --models`).") var models: String?
    @Option(help: "Region: thigh or lowerleg (forced, so no classifier is needed).") var region: RegionChoice = .thigh
    @Option(name: .customLong("max-memory"), help: "Patch memory budget in GB.") var maxMemory: Double = 1.5
    @Option(help: "Network precision: f32 or bf16.") var precision: String = "f32"
    @Flag(help: "One JSON object per file.") var json = false

    func validate() throws {
        guard BenchEngineCommand.configuration(named: config) != nil else { throw ValidationError("unknown --config \(config) (small, spec)") }
        guard region != .legs else { throw ValidationError("--region must be thigh or lowerleg") }
        guard Precision(rawValue: precision) != nil else { throw ValidationError("--precision must be f32 or bf16") }
    }

    func run() throws {
        let network: RegionNetwork
        let target: SegmentationRegion = region == .lowerleg ? .lowerLeg : .thigh
        if let models {
            var command = try SegmentCommand.parse([".", "--models", models, "--region", region.rawValue, "--precision", precision])
            command.maxMemory = maxMemory
            guard let loaded = try command.loadSegmenter().networks[target] else {
                throw ValidationError("\(models) has no \(region.rawValue) network")
            }
            network = loaded
        } else {
            let unetConfig = BenchEngineCommand.configuration(named: config)!
            let unet = try UNet(configuration: unetConfig, weights: RandomWeights.make(unetConfig, seed: 1), backend: try DNNLBackend(),
                                precision: Precision(rawValue: precision)!)
            let names = target == .thigh ? LabelTables.thighNetwork : LabelTables.lowerLegNetwork
            let map = LabelTables.standardizedLabels(forClassNames: names + Array(repeating: "", count: max(0, unetConfig.classes - names.count)))
            network = RegionNetwork(region: target, unet: unet, normalization: InputNormalization(rule: "uniform", bins: 1024),
                                    outputLabels: [.left: map.left, .right: map.right])
        }
        var options = SegmentationOptions()
        options.region = region
        options.memoryBudgetBytes = maxMemory * 1e9
        let segmenter = Segmenter(networks: [target: network], classifier: nil, options: options)
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
                    "config": .string(models == nil ? config : "models"), "precision": .string(precision),
                    "patch": .array((report.patchSize[target] ?? []).reversed().map { .number(Double($0)) }),
                    "patches": .number(Double(report.patches)), "seconds": .number((total * 1000).rounded() / 1000),
                    "stages": .object(Dictionary(stages.map { ($0.0, JSONValue.number(($0.1 * 1000).rounded() / 1000)) }, uniquingKeysWith: { a, _ in a })),
                    "peak_rss_mb": .number(ResourceUsage.peakResidentMB.rounded()),
                ]))
            } else {
                let parts = stages.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", ")
                print(String(format: "%@: %.2f s total (%@); %d patches of %@ (z,y,x); peak RSS %.0f MiB", file, total, parts,
                             report.patches, (report.patchSize[target] ?? []).reversed().map(String.init).joined(separator: "x"),
                             ResourceUsage.peakResidentMB))
            }
        }
    }
}
