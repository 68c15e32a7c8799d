import Foundation
import LegSegDNNL
import LegSegEngine
@testable import LegSegTraining
import Testing

/// A synthetic 3D labelling problem: two boxes (labels 1 and 2) in noisy background, intensity differing per
/// label, so the net must use intensity and context. Returns input `[N,1,D,H,W]`, one-hot target and labels.
func boxesProblem(batch: Int, shape: [Int], seed: UInt64) throws -> (HostTensor, HostTensor, [Int]) {
    var rng = SplitMix64(seed: seed)
    let (d, h, w) = (shape[0], shape[1], shape[2])
    var x = HostTensor(zeros: [batch, 1, d, h, w])
    var labels = [Int](repeating: 0, count: batch * d * h * w)
    for b in 0..<batch {
        for label in 1...2 {
            let y0 = Int(rng.next() % UInt64(h - 4)), x0 = Int(rng.next() % UInt64(w - 4))
            let sy = 3 + Int(rng.next() % 2), sx = 3 + Int(rng.next() % 2)
            for z in 0..<d { for y in y0..<min(h, y0 + sy) { for xx in x0..<min(w, x0 + sx) {
                labels[((b * d + z) * h + y) * w + xx] = label
            } } }
        }
        for i in 0..<(d * h * w) {
            let label = labels[b * d * h * w + i]
            x.data[b * d * h * w + i] = Float(label == 0 ? 0 : (label == 1 ? 1 : 2)) + Float(rng.normal()) * 0.15
        }
    }
    return (x, try HostTensor.oneHot(labels: labels, classes: 3, shape: [batch] + shape), labels)
}

/// Mean hard Dice of the foreground classes (arg-max of the probabilities vs labels).
func foregroundDice(_ probabilities: HostTensor, labels: [Int], classes: Int) -> Double {
    let predicted = probabilities.argmaxOverChannels()
    var total = 0.0
    for k in 1..<classes {
        var both = 0, p = 0, t = 0
        for (a, b) in zip(predicted, labels) {
            if a == k { p += 1 }
            if b == k { t += 1 }
            if a == k && b == k { both += 1 }
        }
        total += p + t == 0 ? 1 : 2 * Double(both) / Double(p + t)
    }
    return total / Double(classes - 1)
}

@Suite("Learning")
struct LearningTests {
    static let tinyUNet = UNetConfiguration(dimensions: 3, inputChannels: 1, classes: 3, depth: 2, baseFeatures: 4,
                                            startFeatures: 4, downsampling: [[1, 2, 2]], activation: .gelu,
                                            normalization: .batch, dropout: 0.1)

    /// The tiny UNet learns the boxes problem with the original's loss and Adam; judged on fresh volumes in eval
    /// mode (running statistics, no dropout).
    @Test func tinyUNetLearnsBoxes() throws {
        let backend = try DNNLBackend()
        let network = try TrainableUNet(configuration: Self.tinyUNet,
                                        parameters: TrainableNetwork.initialParameters(Self.tinyUNet, seed: 1))
        let trainer = SegmentationTrainer(network: network, backend: backend, optimizer: Adam(beta1: 0.9, beta2: 0.99, epsilon: 1e-5),
                                          loss: CombinedLoss.segmentDataDefault(),
                                          settings: TrainingSettings(baseLearningRate: 0.02, seed: 5))
        var first = 0.0, last = 0.0
        for step in 0..<80 {
            let (x, t, _) = try boxesProblem(batch: 2, shape: [2, 12, 12], seed: UInt64(100 + step))
            let loss = try trainer.step(input: x, target: t)
            if step == 0 { first = loss }
            last = loss
        }
        let (x, _, labels) = try boxesProblem(batch: 4, shape: [2, 12, 12], seed: 7)
        let dice = foregroundDice(try trainer.predict(x), labels: labels, classes: 3)
        #expect(last < first / 2, "loss \(first) → \(last)")
        #expect(dice > 0.95, "foreground Dice on unseen volumes \(dice)")
    }

    /// A tiny slice classifier learns which half of the image holds a bright blob (side) and whether it is in
    /// the upper or lower half (position).
    @Test func tinyClassifierLearnsToyTask() throws {
        let config = SliceClassifierConfiguration(
            imageSize: [16, 16], inputChannels: 1,
            stages: [.init(features: 4, kernel: 3, pool: 2), .init(features: 8, kernel: 3, pool: 2)], headWidths: [8],
            heads: [.init(name: "side", classes: ["Left", "Right"]), .init(name: "position", classes: ["Lower", "Upper"])],
            activation: .relu, normalization: .batch)
        func sample(_ n: Int, seed: UInt64) throws -> (HostTensor, [String: HostTensor], [String: [Int]]) {
            var rng = SplitMix64(seed: seed)
            var x = HostTensor(zeros: [n, 1, 16, 16])
            var side: [Int] = [], position: [Int] = []
            for b in 0..<n {
                let s = Int(rng.next() % 2), p = Int(rng.next() % 2)
                side.append(s); position.append(p)
                let cx = s * 8 + 1 + Int(rng.next() % 4), cy = p * 8 + 1 + Int(rng.next() % 4)
                for i in 0..<256 { x.data[b * 256 + i] = Float(rng.normal()) * 0.2 }
                for y in cy..<(cy + 3) { for xx in cx..<(cx + 3) { x.data[b * 256 + y * 16 + xx] += 2 } }
            }
            return (x, ["side": try .oneHot(labels: side, classes: 2, shape: [n]),
                        "position": try .oneHot(labels: position, classes: 2, shape: [n])],
                    ["side": side, "position": position])
        }
        let backend = try DNNLBackend()
        let network = try TrainableSliceClassifier(configuration: config,
                                                   parameters: TrainableNetwork.initialParameters(config, seed: 2))
        let adam = Adam()
        for step in 0..<60 {
            let (x, targets, _) = try sample(16, seed: UInt64(step))
            let tape = Tape(backend: backend, training: true)
            let heads = try network.forward(tape, input: try backend.upload(x, role: .activation, precision: .f32))
            let seeds = try heads.map { head -> (output: Variable, seed: any DeviceTensor) in
                let (_, g) = try CrossEntropyLoss().evaluate(try backend.download(head.probabilities.value), target: targets[head.head]!)
                return (head.probabilities, try backend.upload(g, role: .activation, precision: .f32))
            }
            try tape.backward(seeds)
            try adam.update(&network.parameters, gradients: try network.gradients(from: tape), learningRate: 0.01)
        }
        let (x, _, labels) = try sample(64, seed: 999)
        let eval = Tape(backend: backend, training: false)
        for head in try network.forward(eval, input: try backend.upload(x, role: .activation, precision: .f32)) {
            let p = try backend.download(head.probabilities.value)
            let correct = zip(p.argmaxOverChannels(), labels[head.head]!).filter { $0 == $1 }.count
            #expect(Double(correct) / 64 >= 0.95, "\(head.head): \(correct)/64 correct on unseen images")
        }
    }

    /// Mixed precision (bf16 on the backend, f32 master weights): the loss falls as in f32.
    @Test func mixedPrecisionTrains() throws {
        let backend = try DNNLBackend()
        let network = try TrainableUNet(configuration: Self.tinyUNet,
                                        parameters: TrainableNetwork.initialParameters(Self.tinyUNet, seed: 1))
        let trainer = SegmentationTrainer(network: network, backend: backend, optimizer: Adam(), loss: CombinedLoss.segmentDataDefault(),
                                          settings: TrainingSettings(baseLearningRate: 0.02, precision: .bf16, seed: 5))
        let (x, t, _) = try boxesProblem(batch: 2, shape: [2, 12, 12], seed: 3)
        let first = try trainer.step(input: x, target: t)
        var last = first
        for _ in 0..<15 { last = try trainer.step(input: x, target: t) }
        #expect(last.isFinite && last < 0.7 * first, "bf16 loss \(first) → \(last)")
    }
}
