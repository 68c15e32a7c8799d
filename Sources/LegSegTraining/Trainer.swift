import Foundation
import LegSegEngine

/// Settings of a training run (spec 4.5 defaults via `segmentData`).
public struct TrainingSettings: Codable, Sendable, Equatable {
    public var baseLearningRate: Double
    public var schedule: LearningRateSchedule
    public var clipping: GradientClipping
    /// `.bf16`: mixed precision (bf16 weights and activations on the backend, f32 master weights and
    /// gradients); emulated by rounding where the CPU has no bf16 kernels.
    public var precision: Precision
    public var seed: UInt64

    public init(baseLearningRate: Double = 1e-3, schedule: LearningRateSchedule = .constant,
                clipping: GradientClipping = .none, precision: Precision = .f32, seed: UInt64 = 0) {
        self.baseLearningRate = baseLearningRate; self.schedule = schedule; self.clipping = clipping
        self.precision = precision; self.seed = seed
    }

    /// The original's recipe for `rounds` rounds of 128 batches: lr 1e−3, warm-up/plateau/cosine, clip by value 1.
    public static func segmentData(rounds: Int = 150, batchesPerRound: Int = 128) -> TrainingSettings {
        TrainingSettings(baseLearningRate: 1e-3, schedule: .segmentData(totalBatches: rounds * batchesPerRound),
                         clipping: .value(1))
    }
}

/// One UNet training run: forward on a tape, loss on the host, backward, clipping, optimiser update.
extension TrainingSettings {
    /// The tape of training step `batch`: training mode, this run's precision, dropout masks seeded by (seed, batch).
    func trainingTape(_ backend: any TrainingBackend, batch: Int) -> Tape {
        Tape(backend: backend, precision: precision, training: true, seed: seed &+ UInt64(batch) &* 0x9E37_79B9)
    }

    /// The update half of a step, the same for every trainer: clipping, the schedule's learning rate, the optimiser.
    func update(_ parameters: inout [String: HostTensor], gradients: [String: HostTensor], optimizer: any Optimizer, batch: Int) throws {
        var gradients = gradients
        clipping.apply(&gradients)
        try optimizer.update(&parameters, gradients: gradients, learningRate: schedule.learningRate(base: baseLearningRate, batch: batch))
    }
}

public final class SegmentationTrainer {
    public let network: TrainableUNet
    public let backend: any TrainingBackend
    public let optimizer: any Optimizer
    public let loss: any Loss
    public var settings: TrainingSettings
    /// Batches completed (the schedule's index).
    public private(set) var batch = 0

    public init(network: TrainableUNet, backend: any TrainingBackend, optimizer: any Optimizer, loss: any Loss,
                settings: TrainingSettings) {
        self.network = network; self.backend = backend; self.optimizer = optimizer; self.loss = loss; self.settings = settings
    }

    /// One step on `input` `[N, C, spatial...]` and `target` (one-hot probabilities); returns the loss before the update.
    @discardableResult
    public func step(input: HostTensor, target: HostTensor) throws -> Double {
        let tape = settings.trainingTape(backend, batch: batch)
        let x = try backend.upload(input, role: .activation, precision: settings.precision)
        let probabilities = try network.forward(tape, input: x)
        let p = try backend.download(probabilities.value)
        let (value, gradient) = try loss.evaluate(p, target: target)
        try tape.backward(probabilities, seed: try backend.upload(gradient, role: .activation, precision: settings.precision))
        try settings.update(&network.parameters, gradients: try network.gradients(from: tape), optimizer: optimizer, batch: batch)
        batch += 1
        return value
    }

    /// Probabilities in eval mode (running statistics, no dropout).
    public func predict(_ input: HostTensor) throws -> HostTensor {
        let tape = Tape(backend: backend, precision: settings.precision, training: false)
        return try backend.download(try network.forward(tape, input: try backend.upload(input, role: .activation,
                                                                                      precision: settings.precision)).value)
    }

    public func restore(batch: Int) { self.batch = batch }
}
