import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegTraining

/// `train-step` records of `legseg bench engine`: one training step of the UNet (forward in training mode with
/// batch statistics and dropout, the original's combined loss, backward, clipping by value, Adam with L2) on a
/// batch of `trainBatch` patches. GFLOP counts forward + backward as 3× the forward convolutions.
/// `Benchmarks/pytorch_unet_bench.py` times the identical PyTorch step.
extension BenchEngineCommand {
    func trainStep(backend: DNNLBackend, name: String, config: UNetConfiguration, precision: Precision,
                   batch: Int) throws -> [String: JSONValue]? {
        let weights = RandomWeights.make(config, seed: 42)
        let network = try TrainableUNet(configuration: config, parameters: weights)
        let trainer = SegmentationTrainer(network: network, backend: backend, optimizer: Adam.segmentData(),
                                          loss: CombinedLoss.segmentDataDefault(),
                                          settings: TrainingSettings(baseLearningRate: 1e-3, clipping: .value(1),
                                                                     precision: precision, seed: 1))
        let input = RandomWeights.input([batch, config.inputChannels] + patchSize, seed: 7)
        var labels = [Int](repeating: 0, count: batch * patchSize.reduce(1, *))
        for i in labels.indices { labels[i] = (i / 97) % config.classes }
        let target = try HostTensor.oneHot(labels: labels, classes: config.classes, shape: [batch] + patchSize)
        let gflop = 3 * (try config.forwardFLOPs(spatial: patchSize)) * Double(batch) / 1e9
        let start = DispatchTime.now().uptimeNanoseconds
        try trainer.step(input: input, target: target)  // warm-up: primitive creation
        let firstMS = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        for _ in 1..<warmup { try trainer.step(input: input, target: target) }
        var times: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try trainer.step(input: input, target: target)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        let ms = times.sorted()[times.count / 2]
        return [
            "mode": .string("train-step"), "config": .string(name), "precision": .string(precision.rawValue),
            "patch": .array(patchSize.map { .number(Double($0)) }), "batch": .number(Double(batch)),
            "params": .number(Double(config.storedParameterCount)),
            "gflop": .number((gflop * 100).rounded() / 100), "ms": .number((ms * 100).rounded() / 100),
            "first_ms": .number(firstMS.rounded()), "gflops": .number((gflop / (ms / 1000)).rounded()),
            "peak_rss_mb": .number(ResourceUsage.peakResidentMB.rounded()), "repeats": .number(Double(repeats)),
            "warmup": .number(Double(warmup)),
            "threads": threads.map { .number(Double($0)) } ?? .null,
            "bf16_native": .bool(backend.capabilities.nativeBF16), "isa": .string(DNNLBackend.isaName),
        ]
    }
}
