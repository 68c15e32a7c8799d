import Foundation
import Testing
import LegSegDNNL
import LegSegEngine
import LegSegIO
import LegSegTestSupport
@testable import LegSegTraining

/// The `legseg train` loop on a tiny problem: two bright boxes of different brightness (classes 1 and 2).
@Suite(.serialized) struct TrainingRunTests {
    static let config = UNetConfiguration(classes: 3, depth: 2, baseFeatures: 4, startFeatures: 4, downsampling: [[1, 2, 2]], dropout: 0)

    static func volume(_ seed: UInt64) -> TrainingVolume {
        var g = SeededGenerator(seed: seed)
        let shape = [24, 24, 6]
        var image = Volume<Float>(shape: shape, repeating: 0, affine: .identity)
        var labels = Volume<UInt8>(shape: shape, repeating: 0, affine: .identity)
        let a = [Int(g.next() % 6) + 2, Int(g.next() % 6) + 2], b = [Int(g.next() % 6) + 13, Int(g.next() % 6) + 12]
        for k in 0..<6 { for j in 0..<24 { for i in 0..<24 {
            image[i, j, k] = Float(g.uniform(0...0.2))
            if (a[0]..<a[0] + 7).contains(i) && (a[1]..<a[1] + 7).contains(j) { image[i, j, k] += 1; labels[i, j, k] = 1 }
            if (b[0]..<b[0] + 6).contains(i) && (b[1]..<b[1] + 6).contains(j) { image[i, j, k] += 2; labels[i, j, k] = 2 }
        } } }
        return TrainingVolume(name: "boxes\(seed)", image: image, labels: labels)
    }

    func makeRun(_ directory: URL, augment: Bool, rounds: Int) throws -> TrainingRun {
        let network = try TrainableUNet(configuration: Self.config, parameters: TrainableNetwork.initialParameters(Self.config, seed: 1))
        var settings = TrainingRunSettings()
        settings.rounds = rounds; settings.batchesPerRound = 6; settings.batchSize = 2; settings.patch = [4, 16, 16]
        settings.validationPatches = 4; settings.augment = augment
        let trainer = SegmentationTrainer(network: network, backend: try DNNLBackend(), optimizer: Adam(beta1: 0.9, beta2: 0.99, epsilon: 1e-5),
                                          loss: CombinedLoss.segmentDataDefault(), settings: TrainingSettings(baseLearningRate: 1e-2))
        let manifest = ModelManifest(name: "boxes", architecture: .unet(Self.config),
                                     input: InputSpec(normalization: InputNormalization(rule: "minmax"), patchSize: [4, 16, 16], voxelSizeMM: [1, 1, 1]),
                                     classes: ["background", "a", "b"].enumerated().map { ClassLabel(name: $0.element, label: $0.offset) },
                                     provenance: ["script": "TrainingRunTests"], weights: WeightsReference(file: "boxes.safetensors", sha256: "", dtype: .f32))
        return try TrainingRun(trainer: trainer, settings: settings, manifest: manifest, volumes: (1...4).map { Self.volume($0) },
                               validation: [Self.volume(99)], directory: directory)
    }

    @Test func aShortRunLowersTheLossAndReachesADiceFloor() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-train")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try makeRun(dir, augment: false, rounds: 6)
        try run.run()
        #expect(run.records.count == 6)
        #expect(run.records.last!.loss < 0.5 * run.records.first!.loss)
        // Floor set from the measured run (mean Dice 0.85 after 6 rounds of 6 batches).
        #expect(run.records.last!.meanDice > 0.75, "\(run.records.map(\.meanDice))")
        let log = try String(contentsOf: dir.appendingPathComponent("boxes.log.csv"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 7 && log.hasPrefix("round,loss,mean_dice"))
        _ = try ModelFile(contentsOf: dir.appendingPathComponent("boxes.json"))  // the checkpoint is a model file
    }

    @Test func resumingGivesTheSameWeightsAsAnUninterruptedRun() throws {
        let straight = try TestSupport.makeTemporaryDirectory("legseg-train"), split = try TestSupport.makeTemporaryDirectory("legseg-train")
        defer { try? FileManager.default.removeItem(at: straight); try? FileManager.default.removeItem(at: split) }
        let a = try makeRun(straight, augment: true, rounds: 2)
        try a.run()
        try makeRun(split, augment: true, rounds: 1).run()
        let b = try makeRun(split, augment: true, rounds: 2)  // a fresh process would start like this
        let start = try b.resume()
        #expect(start == 1 && b.records.count == 1)
        try b.run(from: start)
        for (name, tensor) in a.trainer.network.parameters { #expect(b.trainer.network.parameters[name] == tensor, "\(name)") }
        #expect(a.records.last!.loss == b.records.last!.loss)
    }
}
