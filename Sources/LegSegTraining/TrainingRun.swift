import Foundation
import LegSegEngine
import LegSegIO

/// A labelled volume in memory: canonical orientation, labels already in the network's table (0...classes-1), or
/// `LabelTables.unlabelled` where a pseudo-labelled scan has no trustworthy label (left out of the loss).
public struct TrainingVolume: Sendable {
    public var name: String
    public var image: Volume<Float>
    public var labels: Volume<UInt8>
    /// Labels made by a teacher network (`legseg train --unlabelled`), not by a person or a phantom: such volumes
    /// train but never validate.
    public var isPseudoLabelled: Bool
    public init(name: String, image: Volume<Float>, labels: Volume<UInt8>, isPseudoLabelled: Bool = false) {
        self.name = name; self.image = image; self.labels = labels; self.isPseudoLabelled = isPseudoLabelled
    }
}

/// Settings of `legseg train` (data, not code: saved beside the checkpoint).
public struct TrainingRunSettings: Codable, Equatable, Sendable {
    public var rounds = 20
    public var batchesPerRound = 32
    public var batchSize = 2
    /// Patch size `(z, y, x)`.
    public var patch = [16, 64, 64]
    public var validationPatches = 8
    /// Stop when the mean validation Dice has not improved for this many rounds (0: never).
    public var patience = 0
    public var seed: UInt64 = 1
    public var augment = true
    public var learningRate = 1e-3
    public var precision = Precision.f32
    public init() {}
}

/// One round's figures (a row of the CSV log).
public struct RoundRecord: Equatable, Sendable {
    public var round: Int
    public var loss: Double
    public var validationDice: [Double]
    public var learningRate: Double
    public var seconds: Double
    public var meanDice: Double { validationDice.isEmpty ? 0 : validationDice.reduce(0, +) / Double(validationDice.count) }
}

public protocol TrainingProgress: AnyObject {
    func batch(_ done: Int, of total: Int, loss: Double)
    func round(_ record: RoundRecord)
}

/// The training loop of `legseg train` (spec §4): rounds of augmented, class-balanced patches; fixed validation
/// patches scored with Dice per class after every round; a checkpoint and a CSV log row per round; exact resume.
///
/// Determinism: every random choice of batch b comes from a generator seeded with (seed, b), so a resumed run
/// draws exactly what the uninterrupted run would have drawn.
public final class TrainingRun {
    public let trainer: SegmentationTrainer
    public let settings: TrainingRunSettings
    public let manifest: ModelManifest
    public let volumes: [TrainingVolume]
    public let validation: [TrainingVolume]
    public let directory: URL
    public weak var progress: TrainingProgress?
    public private(set) var records: [RoundRecord] = []
    let samplers: [PatchSampler]
    let augmenter = Augmenter(mirrorLabels: [:])  // network labels are unsided: mirroring needs no swap
    let ranges = AugmentationRanges()
    let classes: Int

    public init(trainer: SegmentationTrainer, settings: TrainingRunSettings, manifest: ModelManifest,
                volumes: [TrainingVolume], validation: [TrainingVolume], directory: URL) throws {
        guard !volumes.isEmpty else { throw TrainingError("no training volumes") }
        self.trainer = trainer
        self.settings = settings
        self.manifest = manifest
        self.volumes = volumes
        let labelled = volumes.filter { !$0.isPseudoLabelled }
        guard !validation.isEmpty || !labelled.isEmpty else {
            throw TrainingError("pseudo-labelled scans cannot validate: add labelled data, phantoms or validation phantoms")
        }
        self.validation = validation.isEmpty ? labelled : validation
        self.directory = directory
        classes = trainer.network.configuration.classes
        let patchIJK = Array(settings.patch.reversed())
        samplers = volumes.map { PatchSampler(labels: $0.labels, patchSize: patchIJK) }
        for v in volumes + validation
        where v.labels.voxels.contains(where: { Int($0) >= classes && !(v.isPseudoLabelled && $0 == LabelTables.unlabelled) }) {
            throw TrainingError(file: v.name, "holds labels beyond the network's \(classes) classes")
        }
    }

    var checkpointURL: URL { directory.appendingPathComponent(manifest.name + ".json") }
    var logURL: URL { directory.appendingPathComponent(manifest.name + ".log.csv") }

    /// Continues from the checkpoint in `directory`; returns the round to start from.
    public func resume() throws -> Int {
        try RoundLoop.resume(trainer, checkpoint: checkpointURL, log: logURL, records: &records, batchesPerRound: settings.batchesPerRound)
    }

    /// Runs rounds `start..<settings.rounds` (or until early stopping).
    public func run(from start: Int = 0) throws {
        try RoundLoop.run(from: start, settings: settings, trainer: trainer, previous: records, progress: progress,
                          step: { try self.trainer.step(input: $0.0, target: $0.1) }, batch: makeBatch, validate: validate,
                          finish: { record in
                              self.records.append(record)
                              try Checkpoint.write(self.trainer, manifest: self.manifest, to: self.directory)
                              try AtomicFile.write(Data(self.csv().utf8), to: self.logURL)
                          },
                          directory: directory)
    }

    /// Batch `index`: for each sample a volume, an augmentation and a class-balanced patch, all from (seed, index).
    func makeBatch(_ index: Int) throws -> (HostTensor, HostTensor) {
        var g = SeededGenerator(seed: settings.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index))
        let patchIJK = Array(settings.patch.reversed())
        var images: [Float] = [], labels: [Int] = []
        for _ in 0..<settings.batchSize {
            let v = Int(g.next() % UInt64(volumes.count))
            var image = volumes[v].image, label = volumes[v].labels
            let origin = samplers[v].origin(using: &g)
            if settings.augment {
                // Augment a margin around the patch only (rotations need context), not the whole volume.
                let margin = patchIJK.map { $0 / 4 }
                let bigOrigin = (0..<3).map { origin[$0] - margin[$0] }, bigSize = (0..<3).map { patchIJK[$0] + 2 * margin[$0] }
                let p = ranges.draw(using: &g, slices: bigSize[2])
                (image, label) = augmenter.apply(p, image: image.extracting(origin: bigOrigin, size: bigSize, fill: 0),
                                                 labels: label.extracting(origin: bigOrigin, size: bigSize, fill: 0))
                image = image.extracting(origin: margin, size: patchIJK, fill: 0)
                label = label.extracting(origin: margin, size: patchIJK, fill: 0)
            } else {
                image = image.extracting(origin: origin, size: patchIJK, fill: 0)
                label = label.extracting(origin: origin, size: patchIJK, fill: 0)
            }
            manifest.input.normalization.apply(to: &image.voxels)
            images += image.voxels
            labels += label.voxels.map(Int.init)
        }
        let shape = [settings.batchSize, 1] + settings.patch
        return (try HostTensor(shape: shape, data: images),
                try HostTensor.oneHot(labels: labels, classes: classes, shape: [settings.batchSize] + settings.patch,
                                      unlabelled: Int(LabelTables.unlabelled)))
    }

    /// Dice per class (1...classes-1) over fixed validation patches (same every round), in eval mode.
    func validate() throws -> [Double] {
        var g = SeededGenerator(seed: settings.seed ^ 0x5A5A_5A5A)
        let patchIJK = Array(settings.patch.reversed())
        var overlap = [Double](repeating: 0, count: classes), sizes = [Double](repeating: 0, count: classes)
        let validationSamplers = validation.map { PatchSampler(labels: $0.labels, patchSize: patchIJK) }
        for _ in 0..<settings.validationPatches {
            let v = Int(g.next() % UInt64(validation.count))
            let origin = validationSamplers[v].origin(using: &g)
            var image = validation[v].image.extracting(origin: origin, size: patchIJK, fill: 0)
            let truth = validation[v].labels.extracting(origin: origin, size: patchIJK, fill: 0)
            manifest.input.normalization.apply(to: &image.voxels)
            let p = try trainer.predict(try HostTensor(shape: [1, 1] + settings.patch, data: image.voxels))
            let n = image.count
            for i in 0..<n {
                var best = 0
                for c in 1..<classes where p.data[c * n + i] > p.data[best * n + i] { best = c }
                let t = Int(truth.voxels[i])
                sizes[best] += 1; sizes[t] += 1
                if best == t { overlap[t] += 2 }
            }
        }
        return (1..<classes).map { sizes[$0] > 0 ? overlap[$0] / sizes[$0] : 1 }
    }

    func csv() -> String {
        var lines = ["round,loss,mean_dice,learning_rate,seconds," + (1..<classes).map { "dice_\($0)" }.joined(separator: ",")]
        for r in records {
            lines.append("\(r.round),\(r.loss),\(r.meanDice),\(r.learningRate),\(r.seconds)," + r.validationDice.map { String($0) }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parse(_ line: Substring) -> RoundRecord? {
        let f = line.split(separator: ",").map(String.init)
        guard f.count >= 5, let round = Int(f[0]), let loss = Double(f[1]), let lr = Double(f[3]), let s = Double(f[4]) else { return nil }
        return RoundRecord(round: round, loss: loss, validationDice: f.dropFirst(5).compactMap(Double.init), learningRate: lr, seconds: s)
    }
}

/// The round loop both training runs share (UNet and slice classifier): batches, validation, a record per round
/// handed to `finish` (which keeps it and writes the checkpoint and CSV row), early stopping on the mean
/// validation figure; and resuming from it.
enum RoundLoop {
    static func run<Batch>(from start: Int, settings: TrainingRunSettings, trainer: any CheckpointableTrainer,
                           previous: [RoundRecord], progress: TrainingProgress?, step: (Batch) throws -> Double,
                           batch: (Int) throws -> Batch, validate: () throws -> [Double],
                           finish: (RoundRecord) throws -> Void, directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var best = previous.map(\.meanDice).max() ?? -1, sinceBest = 0
        for round in start..<settings.rounds {
            let clock = Date()
            var lossSum = 0.0
            for b in 0..<settings.batchesPerRound {
                lossSum += try step(try batch(round * settings.batchesPerRound + b))
                progress?.batch(b + 1, of: settings.batchesPerRound, loss: lossSum / Double(b + 1))
            }
            let figures = try validate()
            let lr = Double(trainer.settings.schedule.learningRate(base: trainer.settings.baseLearningRate, batch: trainer.batch))
            let record = RoundRecord(round: round + 1, loss: lossSum / Double(settings.batchesPerRound), validationDice: figures,
                                     learningRate: lr, seconds: Date().timeIntervalSince(clock))
            try finish(record)  // keep it, write the checkpoint and the CSV log
            progress?.round(record)
            if record.meanDice > best + 1e-4 { best = record.meanDice; sinceBest = 0 } else { sinceBest += 1 }
            if settings.patience > 0 && sinceBest >= settings.patience { break }
        }
    }

    /// Restores the trainer from the checkpoint and the records from the CSV log; returns the round to start from.
    static func resume(_ trainer: any CheckpointableTrainer, checkpoint: URL, log: URL, records: inout [RoundRecord],
                       batchesPerRound: Int) throws -> Int {
        try Checkpoint.resume(trainer, from: checkpoint)
        if let text = try? String(contentsOf: log, encoding: .utf8) {
            records = text.split(separator: "\n").dropFirst().compactMap(TrainingRun.parse)
        }
        return trainer.batch / batchesPerRound
    }
}
