import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegTestSupport
@testable import LegSegTraining
import Testing

@Suite("Checkpoints")
struct CheckpointTests {
    func makeTrainer(seed: UInt64) throws -> SegmentationTrainer {
        let config = LearningTests.tinyUNet
        let network = try TrainableUNet(configuration: config, parameters: TrainableNetwork.initialParameters(config, seed: seed))
        return SegmentationTrainer(network: network, backend: try DNNLBackend(), optimizer: Adam.segmentData(),
                                   loss: CombinedLoss.segmentDataDefault(),
                                   settings: TrainingSettings(baseLearningRate: 0.01, schedule: .segmentData(totalBatches: 8),
                                                              clipping: .value(1), seed: 11))
    }

    func manifest() -> ModelManifest {
        ModelManifest(name: "tiny", architecture: .unet(LearningTests.tinyUNet),
                      input: InputSpec(normalization: InputNormalization(rule: "uniform", bins: 1024), patchSize: [2, 12, 12],
                                       voxelSizeMM: [3, 1.5, 1.5]),
                      classes: (0..<3).map { ClassLabel(name: $0 == 0 ? "background" : "class\($0)", label: $0) },
                      provenance: ["script": "CheckpointTests"], weights: WeightsReference(file: "tiny.safetensors", sha256: "", dtype: .f32))
    }

    /// Stopping after 3 steps and resuming from the checkpoint gives exactly the weights of an uninterrupted run
    /// (optimiser moments, step count, schedule position, dropout seeds and running statistics all restored).
    @Test func resumeIsExact() throws {
        let batches = try (0..<6).map { try boxesProblem(batch: 2, shape: [2, 12, 12], seed: UInt64(50 + $0)) }
        let straight = try makeTrainer(seed: 1)
        for (x, t, _) in batches { try straight.step(input: x, target: t) }

        let directory = try TestSupport.makeTemporaryDirectory("legseg-checkpoint")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try makeTrainer(seed: 1)
        for (x, t, _) in batches.prefix(3) { try first.step(input: x, target: t) }
        let json = try Checkpoint.write(first, manifest: manifest(), to: directory)

        let resumed = try makeTrainer(seed: 99)  // different initial weights, all overwritten by the checkpoint
        try Checkpoint.resume(resumed, from: json)
        #expect(resumed.batch == 3 && resumed.optimizer.step == 3)
        for (x, t, _) in batches.suffix(3) { try resumed.step(input: x, target: t) }
        for (name, w) in straight.network.parameters {
            #expect(resumed.network.parameters[name]! == w, "\(name) differs after resuming")
        }

        // The checkpoint is an ordinary model file: inference loads it and agrees with the trainer's eval mode.
        let model = try ModelFile(contentsOf: json)
        let unet = try UNet(configuration: LearningTests.tinyUNet, weights: model.weights, backend: try DNNLBackend(), precision: .f32)
        let x = batches[0].0
        let difference = zip(try unet.predict(x).data, try first.predict(x).data).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        #expect(difference < 1e-4, "inference vs trainer eval: \(difference)")
    }

    @Test func mismatchedOptimiserStateIsAnError() throws {
        let directory = try TestSupport.makeTemporaryDirectory("legseg-checkpoint")
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainer = try makeTrainer(seed: 1)
        let json = try Checkpoint.write(trainer, manifest: manifest(), to: directory)
        let other = SegmentationTrainer(network: trainer.network, backend: trainer.backend, optimizer: SGD(),
                                        loss: trainer.loss, settings: trainer.settings)
        #expect(throws: TrainingError.self) { try Checkpoint.resume(other, from: json) }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("tiny.optimizer.safetensors"))
        #expect(throws: TrainingError.self) { try Checkpoint.resume(trainer, from: json) }
    }
}
