import ArgumentParser
import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegIO
import LegSegPhantom
import LegSegTraining

/// `legseg train`: train (or continue training) a thigh or lower-leg UNet on labelled scans and/or phantoms.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a thigh or lower-leg segmentation network on labelled scans and/or synthetic phantoms.",
        discussion: """
        Data: folders in the nnU-Net layout (imagesTr/NAME_0000.nii.gz + labelsTr/NAME.nii.gz) or with \
        NAME_image.nii.gz + NAME_labels.nii.gz pairs, labels in the standardized left/right table (or the table \
        given with --labels, matched by name), plus --phantoms N phantoms generated on the fly. All data are \
        checked before training starts. Each round writes a checkpoint (OUT/NAME.json + .safetensors + \
        .optimizer.safetensors, an ordinary model file) and a row of OUT/NAME.log.csv; --resume continues exactly.
        """)

    enum Region: String, ExpressibleByArgument, CaseIterable { case thigh, lowerleg }
    enum PrecisionOption: String, ExpressibleByArgument, CaseIterable { case f32, bf16 }

    @Option(help: "Which network: thigh (N5 table) or lowerleg (N6 table).") var region: Region
    @Option(help: "Checkpoint folder (keep it outside the repository).") var out: String
    @Option(help: "Folder of labelled scans (repeatable).") var data: [String] = []
    @Option(help: "ITK-SNAP label file of the data's labels (default: the standardized Muscles_leg table).") var labels: String?
    @Option(help: "Synthetic phantoms to generate and add to the training data.") var phantoms: Int = 0
    @Option(help: "Extra phantoms used only for validation (default: validate on the training data).") var validationPhantoms: Int = 0
    @Option(help: "Model name (file names in --out).") var name: String?
    @Option(help: "Rounds.") var rounds: Int = 20
    @Option(help: "Batches per round.") var batchesPerRound: Int = 32
    @Option(help: "Patches per batch.") var batch: Int = 2
    @Option(help: "Patch size z,y,x (multiples of the network's step).") var patch: String = "16,64,64"
    @Option(help: "Features of the first level.") var base: Int = 16
    @Option(help: "Levels of the UNet.") var depth: Int = 4
    @Option(help: "Base learning rate (Adam, the original's warm-up/plateau/cosine schedule).") var learningRate: Double = 1e-3
    @Option(help: "Training precision: f32, or bf16 (mixed precision).") var precision: PrecisionOption = .f32
    @Option(help: "Stop after this many rounds without a better validation Dice (0: never).") var patience: Int = 0
    @Option(help: "Seed: the same seed and data give the same run.") var seed: UInt64 = 1
    @Flag(help: "Continue from the checkpoint in --out.") var resume = false
    @Flag(help: "Print each round as a JSON object.") var json = false
    @Flag(name: .shortAndLong, help: "No progress output.") var quiet = false

    var patchSize: [Int] { patch.split(separator: ",").compactMap { Int($0) } }

    func validate() throws {
        guard !data.isEmpty || phantoms > 0 else { throw ValidationError("give --data DIR and/or --phantoms N") }
        guard patchSize.count == 3, patchSize.allSatisfy({ $0 > 0 }) else { throw ValidationError("--patch needs z,y,x") }
        guard rounds >= 1, batchesPerRound >= 1, batch >= 1, base >= 2, depth >= 2 else { throw ValidationError("rounds, batches, batch, base and depth must be positive (depth ≥ 2)") }
    }

    func run() throws {
        do { try train() } catch let error as ValidationError { throw error } catch {
            Terminal.error(error)
            throw ExitCode(ExitCodes.badInput)
        }
    }

    func train() throws {
        let table: LabelTables.Table = region == .thigh ? .thigh : .lowerLeg
        let names = region == .thigh ? LabelTables.thighNetwork : LabelTables.lowerLegNetwork
        let lut = try dataLabelTranslation(to: table)
        // 1. Find and check all data before anything is trained.
        var volumes: [TrainingVolume] = []
        for folder in data {
            let cases = try TrainingDataset.discover(URL(fileURLWithPath: folder))
            try TrainingDataset.validate(cases, allowedLabels: Set(lut.keys))
            for c in cases {
                let image = try NIfTIReader.read(c.image).volume.canonicalised().volume
                let labelMap = try NIfTIReader.read(c.labels).volume.canonicalised().volume.map { UInt8(lut[Int($0)] ?? 0) }
                volumes.append(TrainingVolume(name: c.labels.relativePath, image: image, labels: labelMap))
            }
        }
        volumes += try makePhantoms(count: phantoms, first: 0, table: table)
        let validation = try makePhantoms(count: validationPhantoms, first: phantoms, table: table)

        // 2. The network, trainer and run.
        let step = [1, 2, 2]
        let downsampling = [step] + Array(repeating: [2, 2, 2], count: depth - 2)
        let config = UNetConfiguration(classes: names.count, depth: depth, baseFeatures: base, downsampling: downsampling)
        try config.checkPatch(patchSize)
        let backend = try DNNLBackend()
        let network = try TrainableUNet(configuration: config, parameters: TrainableNetwork.initialParameters(config, seed: seed))
        var settings = TrainingRunSettings()
        settings.rounds = rounds; settings.batchesPerRound = batchesPerRound; settings.batchSize = batch
        settings.patch = patchSize; settings.patience = patience; settings.seed = seed
        let trainer = SegmentationTrainer(network: network, backend: backend, optimizer: Adam.segmentData(),
                                          loss: CombinedLoss.segmentDataDefault(),
                                          settings: TrainingSettings(baseLearningRate: learningRate,
                                                                     schedule: .segmentData(totalBatches: rounds * batchesPerRound),
                                                                     clipping: .value(1), precision: precision == .bf16 ? .bf16 : .f32, seed: seed))
        let modelName = name ?? (region == .thigh ? "thigh" : "lowerleg")
        let manifest = ModelManifest(
            name: modelName, description: "LegSeg \(region.rawValue) network trained with legseg train",
            architecture: .unet(config),
            input: InputSpec(normalization: InputNormalization(rule: "uniform", bins: 1024), patchSize: patchSize,
                             voxelSizeMM: volumes.first.map { Array($0.image.spacing.reversed()) } ?? []),
            classes: names.enumerated().map { ClassLabel(name: $0.element, label: $0.offset) },
            provenance: ["tool": "legseg train", "seed": String(seed), "data": data.joined(separator: ","),
                         "phantoms": String(phantoms), "rounds": String(rounds), "batchesPerRound": String(batchesPerRound)],
            weights: WeightsReference(file: modelName + ".safetensors", sha256: "", dtype: .f32))
        let run = try TrainingRun(trainer: trainer, settings: settings, manifest: manifest, volumes: volumes,
                                  validation: validation, directory: URL(fileURLWithPath: out))
        let reporter = RoundReporter(json: json, quiet: quiet, interactive: Terminal.isInteractive)
        run.progress = reporter
        let start = resume ? try run.resume() : 0
        try run.run(from: start)
    }

    /// Data label value → network class, by normalised name with the side suffix removed.
    func dataLabelTranslation(to table: LabelTables.Table) throws -> [Int: Int] {
        let networkNames = table == .thigh ? LabelTables.thighNetwork : LabelTables.lowerLegNetwork
        let index = Dictionary(uniqueKeysWithValues: networkNames.enumerated().map { (LabelTables.normalisedName($0.element), $0.offset) })
        var lut: [Int: Int] = [0: 0]
        let entries: [(Int, String)]
        if let labels {
            entries = try ITKSnapLabelFile(contentsOf: URL(fileURLWithPath: labels)).entries.map { ($0.index, $0.normalisedName) }
        } else {
            entries = LabelTables.names(of: .standardized).map { ($0.key, $0.value) }
        }
        for (id, name) in entries where id != 0 {
            let bare = name.replacingOccurrences(of: "_Left", with: "").replacingOccurrences(of: "_Right", with: "")
            lut[id] = index[bare] ?? 0  // structures the network does not segment become background
        }
        return lut
    }

    func makePhantoms(count: Int, first: Int, table: LabelTables.Table) throws -> [TrainingVolume] {
        var options = PhantomOptions()
        options.regions = region == .thigh ? [.hip, .thigh, .knee] : [.knee, .lowerLeg, .ankle]
        options.randomiseContrast = true
        options.labelTable = table
        options.diseasePattern = .random
        return try (0..<count).map { i in
            if !quiet && !json { Terminal.note("generating phantom \(i + 1) of \(count)") }
            let c = try PhantomGenerator.generate(options: options, seed: seed, index: first + i)
            let image = c.images.first!.volume.canonicalised().volume
            return TrainingVolume(name: c.name, image: image, labels: c.labels.canonicalised().volume)
        }
    }
}

/// Prints training progress: a batch bar on a terminal, one line (or JSON object) per round.
final class RoundReporter: TrainingProgress {
    let json: Bool, quiet: Bool, interactive: Bool
    init(json: Bool, quiet: Bool, interactive: Bool) { self.json = json; self.quiet = quiet; self.interactive = interactive }
    func batch(_ done: Int, of total: Int, loss: Double) {
        guard interactive, !quiet, !json else { return }
        FileHandle.standardError.write(Data(String(format: "\r\u{1B}[Kbatch %d/%d loss %.4f", done, total, loss).utf8))
    }
    func round(_ r: RoundRecord) {
        if json {
            print(JSONLine.encode(["round": .number(Double(r.round)), "loss": .number(r.loss), "mean_dice": .number(r.meanDice),
                                   "dice": .array(r.validationDice.map { .number($0) }), "learning_rate": .number(r.learningRate),
                                   "seconds": .number(r.seconds)]))
            fflush(nil)  // all C streams, i.e. stdout; one line per round as it happens, also when stdout is a pipe
        } else if !quiet {
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            Terminal.note(String(format: "round %d: loss %.4f, validation Dice %.3f, lr %.2e, %.1f s", r.round, r.loss, r.meanDice, r.learningRate, r.seconds))
        }
    }
}
