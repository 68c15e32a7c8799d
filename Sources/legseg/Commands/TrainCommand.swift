import ArgumentParser
import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegIO
import LegSegModels
import LegSegPhantom
import LegSegPipeline
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

    enum Region: String, ExpressibleByArgument, CaseIterable { case thigh, lowerleg, classifier }
    enum PrecisionOption: String, ExpressibleByArgument, CaseIterable { case f32, bf16 }

    @Option(name: [.customLong("network"), .customLong("region")],
            help: "Which network: thigh (N5 table), lowerleg (N6 table), or classifier (slice side and body position, from phantoms).")
    var region: Region
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
    @Option(help: "Dropout rate after every UNet block during training (default 0.2 as the original, or the --init model's).") var dropout: Double?
    @Option(help: "Classifier only: slice image size in pixels (square).") var imageSize: Int = 64
    @Option(help: "Voxel size z,y,x in mm the network is trained (and later run) at; data are resampled to it. 'native' keeps the data's own.")
    var voxelSize: String?
    @Option(name: .customLong("init"),
            help: "Fine-tune: start from this model file's weights ('bundled': the shipped network of --network); its architecture and voxel size are kept.")
    var initial: String?
    @Option(help: ArgumentHelp("Folder of unlabelled scans for semi-supervised fine-tuning (repeatable): the teacher's confident, anatomically consistent pseudo-labels train alongside the labelled data.",
                               discussion: "The teacher is the bundled pipeline (or --teacher DIR) with the --init model in the trained network's place, run with mirror test-time augmentation; only the slices it assigns to this network's region are used."))
    var unlabelled: [String] = []
    @Option(help: "Folder of models (thigh.json, lowerleg.json, classifier.json) that makes the pseudo-labels (default: the bundled networks).")
    var teacher: String?
    @Option(help: "Write each --unlabelled scan's pseudo-labels here (NAME_pseudolabels.nii.gz, standardized table, 255 = not used), on the scan's grid, to inspect what the network learns from.")
    var pseudoLabelsOut: String?
    @Option(help: "Pseudo-labels: smallest teacher probability a voxel inside the body needs to keep its label.") var pseudoConfidence: Double = 0.8
    @Option(help: "Base learning rate (Adam, the original's warm-up/plateau/cosine schedule).") var learningRate: Double = 1e-3
    @Option(help: "Training precision: f32, or bf16 (mixed precision).") var precision: PrecisionOption = .f32
    @Option(help: "Stop after this many rounds without a better validation Dice (0: never).") var patience: Int = 0
    @Option(help: "Seed: the same seed and data give the same run.") var seed: UInt64 = 1
    @Flag(help: "Continue from the checkpoint in --out.") var resume = false
    @Flag(help: "Print each round as a JSON object.") var json = false
    @Flag(name: .shortAndLong, help: "No progress output.") var quiet = false

    var patchSize: [Int] { patch.split(separator: ",").compactMap { Int($0) } }
    /// Training voxel size `(i, j, k)` (reversed from the option's z,y,x); nil = native.
    var voxelSizeIJK: [Double]? {
        let v = voxelSize ?? "6,3,3"
        return v == "native" ? nil : Array(v.split(separator: ",").compactMap { Double($0) }.reversed())
    }

    func validate() throws {
        guard !data.isEmpty || phantoms > 0 || !unlabelled.isEmpty else { throw ValidationError("give --data DIR, --phantoms N and/or --unlabelled DIR") }
        if region == .classifier {
            guard data.isEmpty else { throw ValidationError("the classifier learns from phantoms' per-slice regions: give --phantoms N, not --data") }
            guard imageSize >= 16, imageSize % 16 == 0 else { throw ValidationError("--image-size must be a multiple of 16") }
        }
        guard patchSize.count == 3, patchSize.allSatisfy({ $0 > 0 }) else { throw ValidationError("--patch needs z,y,x") }
        if let v = voxelSizeIJK { guard v.count == 3, v.allSatisfy({ $0 > 0 }) else { throw ValidationError("--voxel-size needs z,y,x in mm or 'native'") } }
        if !unlabelled.isEmpty {
            guard region != .classifier else { throw ValidationError("--unlabelled trains the segmentation networks, not the classifier") }
            guard initial != nil else { throw ValidationError("--unlabelled needs --init MODEL|bundled: the network that is fine-tuned also makes the pseudo-labels") }
            guard pseudoConfidence > 0, pseudoConfidence < 1 else { throw ValidationError("--pseudo-confidence must lie in (0, 1)") }
        }
        if let dropout { guard (0..<1).contains(dropout) else { throw ValidationError("--dropout must lie in [0, 1)") } }
        guard rounds >= 1, batchesPerRound >= 1, batch >= 1, base >= 2, depth >= 2 else { throw ValidationError("rounds, batches, batch, base and depth must be positive (depth ≥ 2)") }
    }

    func run() throws {
        do { try train() } catch let error as ValidationError { throw error } catch {
            Terminal.error(error)
            throw ExitCode(ExitCodes.badInput)
        }
    }

    func train() throws {
        if region == .classifier { return try trainClassifier() }
        let start = try initialModel()
        if let start, voxelSize == nil, start.manifest.input.voxelSizeMM.count == 3 {
            var command = self
            command.voxelSize = start.manifest.input.voxelSizeMM.map { String($0) }.joined(separator: ",")
            return try command.trainUNet(from: start)
        }
        try trainUNet(from: start)
    }

    /// The model to fine-tune (`--init`), checked against the network being trained.
    func initialModel() throws -> ModelFile? {
        guard let initial else { return nil }
        let url: URL
        if initial == "bundled" {
            guard let folder = BundledModels.folder else { throw TrainingError("the bundled networks were not found; pass --init MODEL.json") }
            url = folder.appendingPathComponent(region.rawValue + ".json")
        } else {
            url = URL(fileURLWithPath: initial)
        }
        let model = try ModelFile(contentsOf: url)
        guard case .unet(let config) = model.manifest.architecture else { throw TrainingError(file: url.path, "is not a segmentation UNet") }
        let names = region == .thigh ? LabelTables.thighNetwork : LabelTables.lowerLegNetwork
        let modelNames = model.manifest.classes?.sorted { $0.label < $1.label }.map(\.name) ?? []
        guard config.classes == names.count, modelNames.map(LabelTables.normalisedName) == names.map(LabelTables.normalisedName) else {
            throw TrainingError(file: url.path, "its classes are not the \(region.rawValue) network's (\(names.count) classes of the \(region == .thigh ? "N5" : "N6") table)")
        }
        return model
    }

    func trainUNet(from start: ModelFile?) throws {
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
                volumes.append(prepared(TrainingVolume(name: c.labels.relativePath, image: image, labels: labelMap)))
            }
        }
        volumes += try makePhantoms(count: phantoms, first: 0, table: table)
        let validation = try makePhantoms(count: validationPhantoms, first: phantoms, table: table)
        if !unlabelled.isEmpty {
            guard !volumes.isEmpty || !validation.isEmpty else {
                throw TrainingError("pseudo-labelled scans cannot validate: add --data, --phantoms or --validation-phantoms")
            }
            volumes += try pseudoLabelledScans(network: table)
        }

        // 2. The network, trainer and run.
        let step = [1, 2, 2]
        let downsampling = [step] + Array(repeating: [2, 2, 2], count: depth - 2)
        var config = UNetConfiguration(classes: names.count, depth: depth, baseFeatures: base, downsampling: downsampling)
        if let start, case .unet(let c) = start.manifest.architecture { config = c }
        if let dropout { config.dropout = Float(dropout) }
        try config.checkPatch(patchSize)
        let backend = try DNNLBackend()
        let network = try TrainableUNet(configuration: config, parameters: start?.weights ?? TrainableNetwork.initialParameters(config, seed: seed))
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
                             voxelSizeMM: voxelSizeIJK.map { Array($0.reversed()) } ?? volumes.first.map { Array($0.image.spacing.reversed()) } ?? []),
            classes: names.enumerated().map { ClassLabel(name: $0.element, label: $0.offset) },
            provenance: ["tool": "legseg train", "seed": String(seed), "init": initial ?? "random (Kaiming)", "data": data.joined(separator: ","),
                         "phantoms": String(phantoms), "rounds": String(rounds), "batchesPerRound": String(batchesPerRound)],
            weights: WeightsReference(file: modelName + ".safetensors", sha256: "", dtype: .f32))
        let run = try TrainingRun(trainer: trainer, settings: settings, manifest: manifest, volumes: volumes,
                                  validation: validation, directory: URL(fileURLWithPath: out))
        let reporter = RoundReporter(json: json, quiet: quiet, interactive: Terminal.isInteractive)
        run.progress = reporter
        let start = resume ? try run.resume() : 0
        try run.run(from: start)
    }

    /// The slice classifier (spec §1.3, §2.2): a small 2D trunk on `--image-size` slice images made exactly as
    /// `legseg segment` makes them (prepared volume, `SliceRegionClassifier.sliceImage`), with a side head
    /// (Both / Left / Right) and a position head (Ankle / Lower / Knee / Upper / Hip), learnt from full-length
    /// phantoms whose field of view varies, with one or two legs.
    func trainClassifier() throws {
        let size = [imageSize, imageSize]
        let sides = ["Both", "Left", "Right"], positions = ["Ankle", "Lower", "Knee", "Upper", "Hip"]
        let positionOf: [String: Int] = ["ankle": 0, "lower-leg": 1, "knee": 2, "thigh": 3, "hip": 4]
        func slices(count: Int, first: Int) throws -> SliceImageSet {
            var set = SliceImageSet(imageSize: size)
            let legChoices: [LegSelection] = [.both, .both, .left, .both, .both, .right]
            for i in 0..<count {
                let n = first + i
                if !quiet && !json { Terminal.note("generating phantom \(i + 1) of \(count)") }
                var options = TrainCommand.trainingPhantomOptions(case: n, legChoices: legChoices)
                options.voxelSize = [1.5 + 0.25 * Double(n % 3), 1.5 + 0.25 * Double(n % 3), [5.0, 6, 7, 8][n % 4]]
                if n % 3 != 0 { options.fieldOfViewLengthMM = [250.0, 350, 450][n % 3] }  // a station, not the whole leg
                let c = try PhantomGenerator.generate(options: options, seed: seed, index: n)
                // Phantoms are written in the canonical LPS layout, so sliceRegions[k] is canonical slice k.
                let data = Segmenter.prepare(c.images.first!.volume.canonicalised().volume).data
                let side = options.legs == .both ? 0 : (options.legs == .left ? 1 : 2)
                for k in 0..<data.shape[2] {
                    let name = c.metadata.sliceRegions[k]
                    guard let p = positionOf[name] else { continue }
                    set.append(SliceRegionClassifier.sliceImage(data, slice: k, size: size), labels: ["side": side, "position": p])
                }
            }
            return set
        }
        let training = try slices(count: phantoms, first: 0)
        let validation = try slices(count: validationPhantoms, first: phantoms)
        let config = SliceClassifierConfiguration(
            imageSize: size, inputChannels: 1,
            stages: [.init(features: 8, kernel: 5, pool: 2), .init(features: 16, kernel: 3, pool: 2),
                     .init(features: 32, kernel: 3, pool: 2), .init(features: 32, kernel: 3, pool: 2)],
            headWidths: [64], heads: [.init(name: "side", classes: sides), .init(name: "position", classes: positions)],
            activation: .relu, normalization: .batch)
        let backend = try DNNLBackend()
        let network = try TrainableSliceClassifier(configuration: config, parameters: TrainableNetwork.initialParameters(config, seed: seed))
        var settings = TrainingRunSettings()
        settings.rounds = rounds; settings.batchesPerRound = batchesPerRound; settings.batchSize = batch
        settings.patience = patience; settings.seed = seed
        let trainer = ClassifierTrainer(network: network, backend: backend, optimizer: Adam(),
                                        settings: TrainingSettings(baseLearningRate: learningRate,
                                                                   schedule: .segmentData(totalBatches: rounds * batchesPerRound),
                                                                   clipping: .norm(5), precision: precision == .bf16 ? .bf16 : .f32, seed: seed))
        let modelName = name ?? "classifier"
        let manifest = ModelManifest(
            name: modelName, description: "LegSeg slice classifier (side, body position) trained with legseg train",
            architecture: .sliceClassifier(config),
            input: InputSpec(normalization: InputNormalization(rule: "minmax"), patchSize: size, voxelSizeMM: []),
            classes: positions.enumerated().map { ClassLabel(name: $0.element, label: $0.offset) },
            provenance: ["tool": "legseg train --network classifier", "seed": String(seed), "phantoms": String(phantoms),
                         "slices": String(training.count), "rounds": String(rounds), "batchesPerRound": String(batchesPerRound)],
            weights: WeightsReference(file: modelName + ".safetensors", sha256: "", dtype: .f32))
        let run = try ClassifierTrainingRun(trainer: trainer, settings: settings, manifest: manifest, training: training,
                                            validation: validation, directory: URL(fileURLWithPath: out))
        run.mirrorSwap = ["side": [1: 2, 2: 1]]
        let reporter = RoundReporter(json: json, quiet: quiet, interactive: Terminal.isInteractive, metric: "accuracy")
        run.progress = reporter
        let start = resume ? try run.resume() : 0
        try run.run(from: start)
    }

    /// Data label value → network class, by normalised name with the side suffix removed.
    func dataLabelTranslation(to table: LabelTables.Table) throws -> [Int: Int] {
        if let labels {
            return TrainCommand.labelTranslation(
                try ITKSnapLabelFile(contentsOf: URL(fileURLWithPath: labels)).entries.map { ($0.index, $0.normalisedName) }, to: table)
        }
        return TrainCommand.labelTranslation(LabelTables.names(of: .standardized).map { ($0.key, $0.value) }, to: table)
    }

    static func labelTranslation(_ entries: [(Int, String)], to table: LabelTables.Table) -> [Int: Int] {
        let networkNames = table == .thigh ? LabelTables.thighNetwork : LabelTables.lowerLegNetwork
        let index = Dictionary(uniqueKeysWithValues: networkNames.enumerated().map { (LabelTables.normalisedName($0.element), $0.offset) })
        var lut: [Int: Int] = [0: 0]
        for (id, name) in entries where id != 0 {
            let bare = name.replacingOccurrences(of: "_Left", with: "").replacingOccurrences(of: "_Right", with: "")
            lut[id] = index[bare] ?? 0  // structures the network does not segment become background
        }
        return lut
    }

    /// The variation every training phantom gets, by case number: random per-tissue gains, disease severity
    /// cycling 0–0.6 with a random pattern, contrast cycling out-phase (half), in-phase, water, fat, T1-like, and legs
    /// cycling through `legChoices`.
    static func trainingPhantomOptions(case n: Int, legChoices: [LegSelection]) -> PhantomOptions {
        let contrasts: [ImageContrast] = [.outPhase, .inPhase, .outPhase, .water, .outPhase, .fat, .outPhase, .t1Like]
        var options = PhantomOptions()
        options.randomiseContrast = true
        options.diseasePattern = .random
        options.diseaseSeverity = Double(n % 5) * 0.15  // healthy ... moderately fatty (0.6)
        options.contrast = contrasts[n % contrasts.count]
        options.legs = legChoices[n % legChoices.count]
        return options
    }

    /// What every network input gets at inference (`Segmenter.prepare`: clip, foreground mask, background 0), then
    /// the training voxel size.
    func prepared(_ v: TrainingVolume) -> TrainingVolume {
        atTrainingVoxelSize(TrainingVolume(name: v.name, image: Segmenter.prepare(v.image).data, labels: v.labels,
                                           isPseudoLabelled: v.isPseudoLabelled))
    }

    /// A prepared volume resampled to the training voxel size: images linear, labels nearest, as `legseg segment`
    /// resamples scans.
    func atTrainingVoxelSize(_ v: TrainingVolume) -> TrainingVolume {
        var v = v
        if let target = voxelSizeIJK, GridResampling.isNeeded(spacing: v.image.spacing, target: target) {
            v.image = GridResampling.resampled(v.image, toSpacing: target)
            v.labels = GridResampling.resampledLabels(v.labels, toSpacing: target)
        }
        return v
    }

    /// The `--unlabelled` scans with the teacher's pseudo-labels (`PseudoLabeller`) in this network's classes,
    /// cropped to the slices the teacher assigns to this network's region; scans without such slices are skipped.
    func pseudoLabelledScans(network table: LabelTables.Table) throws -> [TrainingVolume] {
        let folder: URL
        if let teacher { folder = URL(fileURLWithPath: teacher) } else if let bundled = BundledModels.folder { folder = bundled } else {
            throw TrainingError("the bundled networks (the default teacher) were not found; pass --teacher DIR")
        }
        let target: SegmentationRegion = table == .thigh ? .thigh : .lowerLeg
        var replacing: [SegmentationRegion: URL] = [:]
        if let initial, initial != "bundled" { replacing[target] = URL(fileURLWithPath: initial) }
        var options = SegmentationOptions()
        options.mirror = true
        options.largestComponent = false  // the pseudo-labeller marks fragments unlabelled instead of background
        let segmenter = try SegmenterLoading.load(folder: folder, replacing: replacing, precision: .f32, options: options)
        var pseudo = PseudoLabelOptions()
        pseudo.confidence = Float(pseudoConfidence)
        let lut = TrainCommand.labelTranslation(LabelTables.names(of: .standardized).map { ($0.key, $0.value) }, to: table)
        var classOf = [UInt8](repeating: 0, count: 256)
        for (label, c) in lut where label < 256 { classOf[label] = UInt8(c) }
        classOf[Int(LabelTables.unlabelled)] = LabelTables.unlabelled  // kept as it is in the network's classes
        var out: [TrainingVolume] = []
        // `--pseudo-labels-out` files are written only once every scan has passed, so a bad scan later in the list
        // leaves none behind (each is also written atomically).
        var writes: [() throws -> Void] = []
        for directory in unlabelled {
            let url = URL(fileURLWithPath: directory)
            let files = try TrainingDataset.niftiFiles(in: url)
            guard !files.isEmpty else { throw TrainingError(file: directory, "holds no NIfTI scans (.nii, .nii.gz)") }
            for name in files {
                let path = url.appendingPathComponent(name).relativePath
                let scan = try NIfTIReader.read(URL(fileURLWithPath: path))
                guard scan.volume.shape.count == 3 else { throw TrainingError(file: path, "is not a 3D image") }
                let (canonical, transform) = scan.volume.canonicalised()
                let teacherRun = try segmenter.segmentCanonical(canonical, file: path)
                let slices = teacherRun.report.regionSlices[target] ?? 0..<0
                let labels = PseudoLabeller.make(from: teacherRun, options: pseudo)
                if let pseudoLabelsOut {
                    var shown = labels.labels
                    let plane = canonical.shape[0] * canonical.shape[1]
                    for n in shown.voxels.indices where !slices.contains(n / plane) { shown.voxels[n] = LabelTables.unlabelled }
                    let file = URL(fileURLWithPath: pseudoLabelsOut).appendingPathComponent(
                        TrainingDataset.stripExtension(name) + "_pseudolabels.nii.gz")
                    let original = shown.undoing(transform), header = scan.header
                    writes.append {
                        try FileManager.default.createDirectory(atPath: pseudoLabelsOut, withIntermediateDirectories: true)
                        try NIfTIWriter.write(original, to: file, like: header, description: "LegSeg pseudo-labels")
                    }
                }
                guard !slices.isEmpty else {
                    if !quiet && !json { Terminal.note("\(path): no \(region.rawValue) slices, not used") }
                    continue
                }
                let origin = [0, 0, slices.lowerBound], size = [canonical.shape[0], canonical.shape[1], slices.count]
                let image = teacherRun.data.extracting(origin: origin, size: size, fill: 0)
                let classes = labels.labels.extracting(origin: origin, size: size, fill: 0).map { classOf[Int($0)] }
                let dropped = Set(labels.rejected.compactMap { LabelTables.name(ofStandardized: $0.label) }).sorted()
                if json {  // one JSON line per scan before the rounds', for scripts that check what the run learns from
                    print(JSONLine.encode(["pseudo_labels": .string(path), "slices": .number(Double(slices.count)),
                                           "labelled_fraction": .number((labels.labelledFraction * 1000).rounded() / 1000),
                                           "not_trusted": .array(dropped.map { .string($0) })]))
                    fflush(nil)
                } else if !quiet {
                    Terminal.note(String(format: "%@: %d %@ slices, %.0f%% of the body pseudo-labelled%@", path, slices.count, region.rawValue,
                                         100 * labels.labelledFraction, dropped.isEmpty ? "" : "; not trusted: " + dropped.joined(separator: ", ")))
                }
                out.append(atTrainingVoxelSize(TrainingVolume(name: path, image: image, labels: classes, isPseudoLabelled: true)))
            }
        }
        guard !out.isEmpty else { throw TrainingError("no --unlabelled scan shows the \(region.rawValue): nothing to fine-tune on") }
        for write in writes { try write() }
        return out
    }

    /// Phantoms for training: mostly two legs, sometimes one; disease severity 0–0.6 with a random pattern, contrast gains and noise; the
    /// image contrast cycles through out-phase (half of them), in-phase, water and fat; rendered directly at the
    /// training voxel size (the phantom's own partial-volume model does the downsampling).
    func makePhantoms(count: Int, first: Int, table: LabelTables.Table) throws -> [TrainingVolume] {
        let legChoices: [LegSelection] = [.both, .both, .both, .left, .both, .both, .both, .right]
        return try (0..<count).map { i in
            if !quiet && !json { Terminal.note("generating phantom \(i + 1) of \(count)") }
            var options = TrainCommand.trainingPhantomOptions(case: first + i, legChoices: legChoices)
            options.regions = region == .thigh ? [.hip, .thigh, .knee] : [.knee, .lowerLeg, .ankle]
            options.labelTable = table
            if let v = voxelSizeIJK { options.voxelSize = v }
            let c = try PhantomGenerator.generate(options: options, seed: seed, index: first + i)
            let image = c.images.first!.volume.canonicalised().volume
            return prepared(TrainingVolume(name: c.name, image: image, labels: c.labels.canonicalised().volume))
        }
    }
}

/// Prints training progress: a batch bar on a terminal, one line (or JSON object) per round.
final class RoundReporter: TrainingProgress {
    let json: Bool, quiet: Bool, interactive: Bool
    /// What the validation figures are: "dice" per class (UNets) or "accuracy" per head (the classifier).
    let metric: String
    init(json: Bool, quiet: Bool, interactive: Bool, metric: String = "dice") {
        self.json = json; self.quiet = quiet; self.interactive = interactive; self.metric = metric
    }
    func batch(_ done: Int, of total: Int, loss: Double) {
        guard interactive, !quiet, !json else { return }
        FileHandle.standardError.write(Data(String(format: "\r\u{1B}[Kbatch %d/%d loss %.4f", done, total, loss).utf8))
    }
    func round(_ r: RoundRecord) {
        if json {
            print(JSONLine.encode(["round": .number(Double(r.round)), "loss": .number(r.loss), "mean_" + metric: .number(r.meanDice),
                                   metric: .array(r.validationDice.map { .number($0) }), "learning_rate": .number(r.learningRate),
                                   "seconds": .number(r.seconds)]))
            fflush(nil)  // all C streams, i.e. stdout; one line per round as it happens, also when stdout is a pipe
        } else if !quiet {
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            Terminal.note(String(format: "round %d: loss %.4f, validation %@ %.3f, lr %.2e, %.1f s", r.round, r.loss,
                                 metric == "dice" ? "Dice" : metric, r.meanDice, r.learningRate, r.seconds))
        }
    }
}
