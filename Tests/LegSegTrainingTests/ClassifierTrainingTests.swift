import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegTestSupport
@testable import LegSegTraining
import Testing

/// The slice-classifier training loop of `legseg train --network classifier`: it learns a toy task with the
/// mirror augmentation swapping the side classes, and resuming from a checkpoint is exact.
@Suite("Classifier training", .serialized)
struct ClassifierTrainingTests {
    static let config = SliceClassifierConfiguration(
        imageSize: [16, 16], inputChannels: 1,
        stages: [.init(features: 4, kernel: 3, pool: 2), .init(features: 8, kernel: 3, pool: 2)], headWidths: [8],
        heads: [.init(name: "side", classes: ["Both", "Left", "Right"]), .init(name: "position", classes: ["Lower", "Upper"])],
        activation: .relu, normalization: .batch)

    /// Images with a bright square in the left or right half (side Left = 1 / Right = 2; image columns run from the
    /// subject's right to left as in canonical slices, so "Left" squares sit in the right half of the image) or two
    /// squares (Both = 0), in the upper or lower half (position).
    static func images(_ n: Int, seed: UInt64) -> SliceImageSet {
        var rng = SplitMix64(seed: seed)
        var set = SliceImageSet(imageSize: [16, 16])
        for _ in 0..<n {
            let side = Int(rng.next() % 3), position = Int(rng.next() % 2)
            var image = [Float](repeating: 0, count: 256)
            let row = position == 0 ? 10 : 2
            let columns = side == 0 ? [2, 10] : (side == 1 ? [10] : [2])
            for c0 in columns { for r in row..<(row + 4) { for c in c0..<(c0 + 4) { image[r * 16 + c] = 0.8 + 0.2 * Float(rng.uniform()) } } }
            set.append(image, labels: ["side": side, "position": position])
        }
        return set
    }

    /// A run of `rounds` rounds (the schedule's length) that stops after `stopAfter` of them.
    func makeRun(_ dir: URL, rounds: Int, stopAfter: Int? = nil) throws -> ClassifierTrainingRun {
        let network = try TrainableSliceClassifier(configuration: Self.config, parameters: TrainableNetwork.initialParameters(Self.config, seed: 3))
        let trainer = ClassifierTrainer(network: network, backend: try DNNLBackend(), optimizer: Adam(),
                                        settings: TrainingSettings(baseLearningRate: 0.01, schedule: .segmentData(totalBatches: rounds * 20),
                                                                   clipping: .norm(5), seed: 4))
        var settings = TrainingRunSettings()
        settings.rounds = stopAfter ?? rounds; settings.batchesPerRound = 20; settings.batchSize = 16; settings.seed = 9
        let manifest = ModelManifest(name: "toy", architecture: .sliceClassifier(Self.config),
                                     input: InputSpec(normalization: InputNormalization(rule: "minmax"), patchSize: [16, 16], voxelSizeMM: []),
                                     classes: nil, provenance: ["script": "ClassifierTrainingTests"],
                                     weights: WeightsReference(file: "toy.safetensors", sha256: "", dtype: .f32))
        let run = try ClassifierTrainingRun(trainer: trainer, settings: settings, manifest: manifest,
                                            training: Self.images(200, seed: 1), validation: Self.images(100, seed: 2), directory: dir)
        run.mirrorSwap = ["side": [1: 2, 2: 1]]
        return run
    }

    @Test func learnsSideAndPositionWithMirroring() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-classifier")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try makeRun(dir, rounds: 4)
        try run.run()
        let accuracy = run.records.last!.validationDice
        #expect(accuracy[0] >= 0.9 && accuracy[1] >= 0.95, "side, position accuracy on unseen images: \(accuracy)")
        #expect(run.records.last!.loss < run.records.first!.loss)
        // The checkpoint is an ordinary model file: it loads for inference.
        let model = try ModelFile(contentsOf: dir.appendingPathComponent("toy.json"))
        guard case .sliceClassifier(let c) = model.manifest.architecture else { Issue.record("not a classifier"); return }
        #expect(c == Self.config)
        let log = try String(contentsOf: dir.appendingPathComponent("toy.log.csv"), encoding: .utf8)
        #expect(log.hasPrefix("round,loss,mean_accuracy,learning_rate,seconds,accuracy_side,accuracy_position"))
    }

    @Test func mirroringSwapsLeftAndRightOnly() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-classifier")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try makeRun(dir, rounds: 1)
        // Across many batches, a mirrored Left image must come with the Right label: check via the bright half.
        var checked = 0
        for index in 0..<20 {
            let (input, labels) = try run.makeBatch(index)
            for b in 0..<16 {
                let image = Array(input.data[(b * 256)..<((b + 1) * 256)])
                var leftHalf: Float = 0, rightHalf: Float = 0
                for r in 0..<16 { for c in 0..<16 { if c < 8 { leftHalf += image[r * 16 + c] } else { rightHalf += image[r * 16 + c] } } }
                let side = labels["side"]![b]
                if side == 1 { #expect(rightHalf > leftHalf); checked += 1 }
                if side == 2 { #expect(leftHalf > rightHalf); checked += 1 }
            }
        }
        #expect(checked > 100)
    }

    @Test func resumeIsExact() throws {
        let a = try TestSupport.makeTemporaryDirectory("legseg-classifier"), b = try TestSupport.makeTemporaryDirectory("legseg-classifier")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let straight = try makeRun(a, rounds: 2)
        try straight.run()
        try makeRun(b, rounds: 2, stopAfter: 1).run()  // interrupted after round 1
        let resumed = try makeRun(b, rounds: 2)
        let start = try resumed.resume()
        #expect(start == 1)
        try resumed.run(from: start)
        for (name, t) in straight.trainer.parameters {
            #expect(resumed.trainer.parameters[name]!.data == t.data, "\(name)")
        }
    }
}
