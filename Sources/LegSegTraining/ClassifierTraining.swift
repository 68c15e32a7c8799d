import Foundation
import LegSegEngine
import LegSegIO

/// Labelled slice images for the slice classifier: `images[n]` is one `imageSize` image (row-major, values in
/// [0, 1], as `SliceRegionClassifier.sliceImage` makes them) and `labels[head][n]` its class index in that head.
public struct SliceImageSet: Sendable {
    public var imageSize: [Int]
    public var images: [[Float]] = []
    public var labels: [String: [Int]] = [:]
    public init(imageSize: [Int]) { self.imageSize = imageSize }
    public var count: Int { images.count }

    public mutating func append(_ image: [Float], labels l: [String: Int]) {
        precondition(image.count == imageSize.reduce(1, *), "slice image does not match the image size")
        images.append(image)
        for (head, c) in l { labels[head, default: []].append(c) }
    }
}

/// One slice-classifier training run step by step: forward on a tape, cross-entropy per head (summed), backward,
/// clipping, optimiser update. The classifier twin of `SegmentationTrainer`.
public final class ClassifierTrainer: CheckpointableTrainer {
    public let network: TrainableSliceClassifier
    public let backend: any TrainingBackend
    public let optimizer: any Optimizer
    public var settings: TrainingSettings
    public private(set) var batch = 0

    public init(network: TrainableSliceClassifier, backend: any TrainingBackend, optimizer: any Optimizer, settings: TrainingSettings) {
        self.network = network; self.backend = backend; self.optimizer = optimizer; self.settings = settings
    }

    public var architectureSpec: ArchitectureSpec { .sliceClassifier(network.configuration) }
    public var parameters: [String: HostTensor] {
        get { network.parameters }
        set { network.parameters = newValue }
    }
    public func restore(batch: Int) { self.batch = batch }

    /// One step on `input` `[N, 1, h, w]` with class indices per head; returns the summed loss before the update.
    @discardableResult
    public func step(input: HostTensor, labels: [String: [Int]]) throws -> Double {
        let tape = settings.trainingTape(backend, batch: batch)
        let heads = try network.forward(tape, input: try backend.upload(input, role: .activation, precision: settings.precision))
        var total = 0.0
        let seeds = try heads.map { head -> (output: Variable, seed: any DeviceTensor) in
            guard let l = labels[head.head], let spec = network.configuration.heads.first(where: { $0.name == head.head }) else {
                throw TrainingError("no labels for the classifier head \(head.head)")
            }
            let target = try HostTensor.oneHot(labels: l, classes: spec.classes.count, shape: [l.count])
            let (value, gradient) = try CrossEntropyLoss().evaluate(try backend.download(head.probabilities.value), target: target)
            total += value
            return (head.probabilities, try backend.upload(gradient, role: .activation, precision: settings.precision))
        }
        try tape.backward(seeds)
        try settings.update(&network.parameters, gradients: try network.gradients(from: tape), optimizer: optimizer, batch: batch)
        batch += 1
        return total
    }

    /// Arg-max class per image for every head, in eval mode.
    public func predict(_ input: HostTensor) throws -> [String: [Int]] {
        let tape = Tape(backend: backend, precision: settings.precision, training: false)
        var out: [String: [Int]] = [:]
        for head in try network.forward(tape, input: try backend.upload(input, role: .activation, precision: settings.precision)) {
            out[head.head] = try backend.download(head.probabilities.value).argmaxOverChannels()
        }
        return out
    }
}

/// The loop of `legseg train --network classifier`: rounds of seeded, augmented batches of slice images, accuracy
/// per head on fixed validation images each round, a checkpoint (model file + optimiser state) and a CSV row per
/// round, exact resume. Augmentation: left/right mirror (swapping the side classes named in `mirrorSwap`),
/// in-plane zoom and shift, gamma, and Gaussian noise, all drawn from (seed, batch index).
public final class ClassifierTrainingRun {
    public let trainer: ClassifierTrainer
    public let settings: TrainingRunSettings
    public let manifest: ModelManifest
    public let training: SliceImageSet
    public let validation: SliceImageSet
    public let directory: URL
    /// Per head, pairs of classes that a left/right mirror exchanges (e.g. side: Left ↔ Right).
    public var mirrorSwap: [String: [Int: Int]] = [:]
    public weak var progress: TrainingProgress?
    public private(set) var records: [RoundRecord] = []

    public init(trainer: ClassifierTrainer, settings: TrainingRunSettings, manifest: ModelManifest,
                training: SliceImageSet, validation: SliceImageSet, directory: URL) throws {
        guard training.count > 0 else { throw TrainingError("no training slices") }
        let heads = trainer.network.configuration.heads
        for set in [training, validation] where set.count > 0 {
            for head in heads {
                guard let l = set.labels[head.name], l.count == set.count, l.allSatisfy({ (0..<head.classes.count).contains($0) }) else {
                    throw TrainingError("slice labels of the head \(head.name) are missing or out of range")
                }
            }
        }
        self.trainer = trainer; self.settings = settings; self.manifest = manifest
        self.training = training; self.validation = validation.count > 0 ? validation : training
        self.directory = directory
    }

    var checkpointURL: URL { directory.appendingPathComponent(manifest.name + ".json") }
    var logURL: URL { directory.appendingPathComponent(manifest.name + ".log.csv") }

    public func resume() throws -> Int {
        try RoundLoop.resume(trainer, checkpoint: checkpointURL, log: logURL, records: &records, batchesPerRound: settings.batchesPerRound)
    }

    /// Runs rounds `start..<settings.rounds`; the records' `validationDice` hold the accuracy per head.
    public func run(from start: Int = 0) throws {
        try RoundLoop.run(from: start, settings: settings, trainer: trainer, previous: records, progress: progress,
                          step: { try self.trainer.step(input: $0.0, labels: $0.1) }, batch: makeBatch, validate: validate,
                          finish: { record in
                              self.records.append(record)
                              try Checkpoint.write(self.trainer, manifest: self.manifest, to: self.directory)
                              try AtomicFile.write(Data(self.csv().utf8), to: self.logURL)
                          },
                          directory: directory)
    }

    /// Batch `index`: random images, each augmented, all from (seed, index).
    func makeBatch(_ index: Int) throws -> (HostTensor, [String: [Int]]) {
        var g = SeededGenerator(seed: settings.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index))
        let (h, w) = (training.imageSize[0], training.imageSize[1])
        var data: [Float] = [], labels: [String: [Int]] = [:]
        for _ in 0..<settings.batchSize {
            let n = Int(g.next() % UInt64(training.count))
            var image = training.images[n]
            let mirror = settings.augment && g.uniform(0...1) < 0.5
            if settings.augment { image = ClassifierTrainingRun.augment(image, h: h, w: w, mirror: mirror, using: &g) }
            data += image
            for (head, l) in training.labels {
                let c = l[n]
                labels[head, default: []].append(mirror ? (mirrorSwap[head]?[c] ?? c) : c)
            }
        }
        return (try HostTensor(shape: [settings.batchSize, 1, h, w], data: data), labels)
    }

    /// Mirror (columns reversed), zoom 0.9–1.1 and shift ±6 % about the centre (bilinear, zeros outside), gamma
    /// e^±0.3, Gaussian noise σ ≤ 0.03; values stay in [0, 1].
    static func augment(_ image: [Float], h: Int, w: Int, mirror: Bool, using g: inout SeededGenerator) -> [Float] {
        let zoom = [g.uniform(0.9...1.1), g.uniform(0.9...1.1)], shift = [g.uniform(-0.06...0.06), g.uniform(-0.06...0.06)]
        let gamma = Float(exp(g.uniform(-0.3...0.3))), sigma = Float(g.uniform(0...0.03))
        var out = [Float](repeating: 0, count: h * w)
        for r in 0..<h {
            let y = (Double(r) + 0.5 - Double(h) / 2) / zoom[0] + Double(h) / 2 - 0.5 + shift[0] * Double(h)
            for c in 0..<w {
                let cc = mirror ? w - 1 - c : c
                let x = (Double(cc) + 0.5 - Double(w) / 2) / zoom[1] + Double(w) / 2 - 0.5 + shift[1] * Double(w)
                let x0 = Int(floor(x)), y0 = Int(floor(y)), fx = Float(x - floor(x)), fy = Float(y - floor(y))
                func at(_ yy: Int, _ xx: Int) -> Float { (0..<h).contains(yy) && (0..<w).contains(xx) ? image[yy * w + xx] : 0 }
                let v = (at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx) * (1 - fy) + (at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx) * fy
                out[r * w + c] = v
            }
        }
        for i in out.indices where out[i] > 0 {
            out[i] = min(1, max(0, pow(out[i], gamma) + sigma * Float(g.normal())))
        }
        return out
    }

    /// Accuracy per head on the validation images, in eval mode.
    func validate() throws -> [Double] {
        let heads = trainer.network.configuration.heads
        var correct = [Int](repeating: 0, count: heads.count)
        let (h, w) = (validation.imageSize[0], validation.imageSize[1])
        let chunk = 64
        for start in stride(from: 0, to: validation.count, by: chunk) {
            let end = min(validation.count, start + chunk)
            let input = try HostTensor(shape: [end - start, 1, h, w], data: Array(validation.images[start..<end].joined()))
            let predicted = try trainer.predict(input)
            for (k, head) in heads.enumerated() {
                let truth = validation.labels[head.name]!
                correct[k] += (start..<end).filter { predicted[head.name]![$0 - start] == truth[$0] }.count
            }
        }
        return correct.map { Double($0) / Double(validation.count) }
    }

    func csv() -> String {
        let names = trainer.network.configuration.heads.map { "accuracy_" + $0.name }
        var lines = ["round,loss,mean_accuracy,learning_rate,seconds," + names.joined(separator: ",")]
        for r in records {
            lines.append("\(r.round),\(r.loss),\(r.meanDice),\(r.learningRate),\(r.seconds)," + r.validationDice.map { String($0) }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
