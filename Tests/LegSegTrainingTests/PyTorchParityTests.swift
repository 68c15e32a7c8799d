import Foundation
import LegSegDNNL
import LegSegEngine
@testable import LegSegTraining
import Testing

/// Largest |a − b| over all values (shapes must agree).
func maxDifference(_ a: HostTensor, _ b: HostTensor) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a.data, b.data).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Training steps against PyTorch (Reference/pytorch/make_training_fixtures.py): same initial weights, batch,
/// loss, clipping, optimiser and schedule → same loss, gradients and updated weights (running statistics too).
@Suite("PyTorch training parity")
struct PyTorchParityTests {
    static let gradientTolerance: Float = 1e-4
    /// Adam moves every weight by about the learning rate (2e-4 here); this bounds the error to a few percent of that.
    static let weightTolerance: Float = 5e-6

    func load(_ name: String) throws -> (SafetensorsFile, [String: HostTensor]) {
        let file = try SafetensorsFile(contentsOf: TrainingFixtures.url(name))
        var tensors: [String: HostTensor] = [:]
        for n in file.names { tensors[n] = try file.tensor(n) }
        return (file, tensors)
    }

    func prefixed(_ tensors: [String: HostTensor], _ prefix: String) -> [String: HostTensor] {
        var out: [String: HostTensor] = [:]
        for (k, v) in tensors where k.hasPrefix(prefix + ".") { out[String(k.dropFirst(prefix.count + 1))] = v }
        return out
    }

    @Test func unetAdamTwoSteps() throws {
        let (file, t) = try load("unet_step.safetensors")
        let config = UNetConfiguration(dimensions: 3, inputChannels: 1, classes: 3, depth: 2, baseFeatures: 4,
                                       startFeatures: 2, downsampling: [[1, 2, 2]], activation: .gelu,
                                       normalization: .batch, normEpsilon: 0.001, dropout: 0)
        let network = try TrainableUNet(configuration: config, parameters: prefixed(t, "init"))
        let backend = try DNNLBackend()
        let settings = TrainingSettings(baseLearningRate: 1e-3, schedule: .segmentData(totalBatches: 10), clipping: .value(1))
        let loss = CombinedLoss.segmentDataDefault()
        let adam = Adam.segmentData()
        let input = t["input"]!, target = t["target"]!
        for step in 1...2 {
            // One step spelled out so the gradients can be compared too.
            let tape = Tape(backend: backend, training: true)
            let p = try network.forward(tape, input: try backend.upload(input, role: .activation, precision: .f32))
            let (value, dp) = try loss.evaluate(try backend.download(p.value), target: target)
            let expectedLoss = Double(file.metadata["loss\(step)"]!)!
            #expect(abs(value - expectedLoss) <= 1e-4 * abs(expectedLoss), "loss \(step): \(value) vs PyTorch \(expectedLoss)")
            try tape.backward(p, seed: try backend.upload(dp, role: .activation, precision: .f32))
            var gradients = try network.gradients(from: tape)
            settings.clipping.apply(&gradients)
            if step == 1 {
                let expected = prefixed(t, "grad1")
                #expect(Set(expected.keys) == Set(gradients.keys))
                for (name, g) in expected {
                    let d = maxDifference(gradients[name]!, g)
                    #expect(d <= Self.gradientTolerance, "gradient \(name): max |Δ| \(d)")
                }
            }
            let lr = settings.schedule.learningRate(base: settings.baseLearningRate, batch: step - 1)
            #expect(abs(Double(lr) - Double(file.metadata["lr\(step)"]!)!) < 1e-9)
            try adam.update(&network.parameters, gradients: gradients, learningRate: lr)
            for (name, w) in prefixed(t, "after\(step)") {
                // A bias right before batch norm has an exactly-zero true gradient (the normalisation removes
                // it): both implementations see rounding noise, which Adam scales up to steps of up to lr.
                let beforeNorm = name.hasSuffix(".bias") && (name.contains(".block.conv.") || name.contains(".block.shortcut"))
                let d = maxDifference(network.parameters[name]!, w)
                #expect(d <= (beforeNorm ? 2 * lr : Self.weightTolerance), "step \(step) \(name): max |Δ| \(d)")
            }
        }
    }

    @Test func classifierSGDTwoSteps() throws {
        let (file, t) = try load("classifier_step.safetensors")
        let config = SliceClassifierConfiguration(
            imageSize: [16, 16], inputChannels: 1,
            stages: [.init(features: 4, kernel: 3, pool: 2), .init(features: 6, kernel: 3, pool: 2)], headWidths: [8],
            heads: [.init(name: "side", classes: ["Both", "Left", "Right"]),
                    .init(name: "position", classes: ["Lower", "Knee", "Upper", "Hip"])],
            activation: .relu, normalization: .batch, normEpsilon: 0.001)
        let network = try TrainableSliceClassifier(configuration: config, parameters: prefixed(t, "init"))
        let backend = try DNNLBackend()
        let sgd = SGD(momentum: 0.9, weightDecay: .l2(1e-4))
        for step in 1...2 {
            let tape = Tape(backend: backend, training: true)
            let heads = try network.forward(tape, input: try backend.upload(t["input"]!, role: .activation, precision: .f32))
            var total = 0.0
            var seeds: [(output: Variable, seed: any DeviceTensor)] = []
            for (name, p) in heads {
                let (value, dp) = try CrossEntropyLoss().evaluate(try backend.download(p.value), target: t["target.\(name)"]!)
                total += value
                seeds.append((p, try backend.upload(dp, role: .activation, precision: .f32)))
            }
            let expectedLoss = Double(file.metadata["loss\(step)"]!)!
            #expect(abs(total - expectedLoss) <= 1e-4 * abs(expectedLoss), "loss \(step): \(total) vs PyTorch \(expectedLoss)")
            try tape.backward(seeds)
            var gradients = try network.gradients(from: tape)
            GradientClipping.norm(0.5).apply(&gradients)
            if step == 1 {
                for (name, g) in prefixed(t, "grad1") {
                    let d = maxDifference(gradients[name]!, g)
                    #expect(d <= Self.gradientTolerance, "gradient \(name): max |Δ| \(d)")
                }
            }
            try sgd.update(&network.parameters, gradients: gradients, learningRate: 0.05)
            for (name, w) in prefixed(t, "after\(step)") {
                let d = maxDifference(network.parameters[name]!, w)
                #expect(d <= 1e-5, "step \(step) \(name): max |Δ| \(d)")
            }
        }
    }
}
