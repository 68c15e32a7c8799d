import Foundation
import LegSegEngine
@testable import LegSegTraining
import Testing

/// Probabilities (softmax of random logits) and a one-hot target, `[2, 3, 2, 3, 2]`.
func lossInputs(seed: UInt64) throws -> (HostTensor, HostTensor) {
    let shape = [2, 3, 2, 3, 2]
    var p = randomTensor(shape, seed: seed, scale: 1.5)
    let inner = 12
    for b in 0..<2 {
        for v in 0..<inner {
            let idx = (0..<3).map { (b * 3 + $0) * inner + v }
            let m = idx.map { p.data[$0] }.max()!
            let e = idx.map { exp(Double(p.data[$0] - m)) }
            let s = e.reduce(0, +)
            for (k, i) in idx.enumerated() { p.data[i] = Float(e[k] / s) }
        }
    }
    var rng = SplitMix64(seed: seed + 1)
    let labels = (0..<(2 * inner)).map { _ in Int(rng.next() % 3) }
    return (p, try HostTensor.oneHot(labels: labels, classes: 3, shape: [2, 2, 3, 2]))
}

@Suite("Losses")
struct LossTests {
    static let losses: [any Loss] = [
        OverlapLoss.softDice(), OverlapLoss.squaredDice(), OverlapLoss.jaccard(), OverlapLoss.tversky(),
        CrossEntropyLoss(), FocalLoss(), MeanSquaredErrorLoss(), CombinedLoss.segmentDataDefault(),
        OverlapLoss.squaredDice(classWeights: [0.2, 1, 3]), CrossEntropyLoss(classWeights: [0.5, 2, 1]),
        FocalLoss(classWeights: [1, 2, 0.5]), MeanSquaredErrorLoss(classWeights: [3, 1, 1]),
    ]

    /// Central differences of the double-precision loss value against the analytic gradient, every value.
    @Test(arguments: 0..<losses.count)
    func finiteDifferences(_ index: Int) throws {
        let loss = Self.losses[index]
        let (p, t) = try lossInputs(seed: 31)
        let (_, g) = try loss.evaluate(p, target: t)
        var worst = 0.0
        let h: Float = 1e-4
        for i in p.data.indices {
            var a = p, b = p
            a.data[i] += h; b.data[i] -= h
            let step = Double(a.data[i]) - Double(b.data[i])  // the representable step
            let numeric = (try loss.evaluate(a, target: t).value - loss.evaluate(b, target: t).value) / step
            worst = max(worst, abs(Double(g.data[i]) - numeric) / (1e-5 + 1e-3 * abs(numeric)))
        }
        #expect(worst <= 1, "\(loss.name)\(index): worst scaled gradient error \(worst)")
    }

    /// Unlabelled voxels (all-zero targets, from `oneHot(unlabelled:)`) are left out exactly: the value and the
    /// gradient equal those of the same loss on a batch that holds only the labelled voxels, and the gradient at
    /// unlabelled voxels is 0.
    @Test(arguments: 0..<losses.count)
    func unlabelledVoxelsAreLeftOut(_ index: Int) throws {
        let loss = Self.losses[index]
        let (p, _) = try lossInputs(seed: 33)
        var rng = SplitMix64(seed: 34)
        let labels = (0..<24).map { _ -> Int in let r = Int(rng.next() % 5); return r >= 3 ? 255 : r }  // ~40 % unlabelled
        let t = try HostTensor.oneHot(labels: labels, classes: 3, shape: [2, 2, 3, 2], unlabelled: 255)
        let kept = labels.indices.filter { labels[$0] != 255 }
        #expect(kept.count > 4 && kept.count < 20)
        // Pack the labelled voxels of both samples into one sample [1, 3, M].
        let m = kept.count
        var pp = HostTensor(zeros: [1, 3, m]), tp = HostTensor(zeros: [1, 3, m])
        for (j, voxel) in kept.enumerated() {
            let (b, v) = (voxel / 12, voxel % 12)
            for k in 0..<3 { pp.data[k * m + j] = p.data[(b * 3 + k) * 12 + v]; tp.data[k * m + j] = t.data[(b * 3 + k) * 12 + v] }
        }
        let (value, g) = try loss.evaluate(p, target: t)
        let (packedValue, packedGradient) = try loss.evaluate(pp, target: tp)
        #expect(abs(value - packedValue) <= 1e-9 * max(1, abs(packedValue)), "\(loss.name): \(value) vs \(packedValue)")
        for voxel in 0..<24 {
            let (b, v) = (voxel / 12, voxel % 12)
            for k in 0..<3 {
                let here = g.data[(b * 3 + k) * 12 + v]
                if let j = kept.firstIndex(of: voxel) {
                    #expect(abs(here - packedGradient.data[k * m + j]) <= 1e-6 * max(1, abs(here)), "\(loss.name)")
                } else {
                    #expect(here == 0, "\(loss.name): gradient \(here) at an unlabelled voxel")
                }
            }
        }
    }

    @Test func perfectPredictionCostsNothing() throws {
        let (_, t) = try lossInputs(seed: 32)
        let losses: [any Loss] = [OverlapLoss.softDice(), OverlapLoss.squaredDice(), OverlapLoss.jaccard(), OverlapLoss.tversky(),
                                  CrossEntropyLoss(), FocalLoss(), MeanSquaredErrorLoss()]
        for loss in losses {
            #expect(abs(try loss.evaluate(t, target: t).value) < 1e-12, "\(loss.name)")
        }
    }

    /// With n = 1 and α = β = ½ the overlap loss is the textbook smoothed Dice 1 − (2TP+1·2)/(Σp + Σt + 2), per class
    /// over the batch, averaged over classes.
    @Test func softDiceClosedForm() throws {
        let (p, t) = try lossInputs(seed: 33)
        var expected = 0.0
        for k in 0..<3 {
            var tp = 0.0, sp = 0.0, st = 0.0
            for b in 0..<2 { for v in 0..<12 {
                let i = (b * 3 + k) * 12 + v
                tp += Double(p.data[i] * t.data[i]); sp += Double(p.data[i]); st += Double(t.data[i])
            } }
            expected += 1 - (2 * tp + 2) / (sp + st + 2)
        }
        #expect(abs(try OverlapLoss.softDice().evaluate(p, target: t).value - expected / 3) < 1e-9)
    }

    @Test func combinedIsTheSumOfItsTerms() throws {
        let (p, t) = try lossInputs(seed: 34)
        let parts: [any Loss] = [OverlapLoss.squaredDice(), MeanSquaredErrorLoss(), OverlapLoss.tversky(), CrossEntropyLoss(),
                                 OverlapLoss.jaccard(), FocalLoss()]
        let sum = try parts.reduce(0.0) { $0 + (try $1.evaluate(p, target: t).value) }
        #expect(abs(try CombinedLoss.segmentDataDefault().evaluate(p, target: t).value - sum) < 1e-9)
    }

    @Test func mismatchedShapesAndWeightsAreErrors() throws {
        let (p, t) = try lossInputs(seed: 35)
        #expect(throws: TrainingError.self) { try CrossEntropyLoss().evaluate(p, target: try t.reshaped([2, 3, 12])) }
        #expect(throws: TrainingError.self) { try OverlapLoss.softDice(classWeights: [1, 2]).evaluate(p, target: t) }
        #expect(throws: TrainingError.self) { try HostTensor.oneHot(labels: [0, 3], classes: 3, shape: [1, 2]) }
    }
}

@Suite("Optimisers and schedules")
struct OptimizerTests {
    @Test func adamFirstStepsMatchClosedForm() throws {
        var params = ["w": try HostTensor(shape: [3], data: [1, -2, 0.5])]
        let g1 = try HostTensor(shape: [3], data: [0.1, -0.3, 0])
        let g2 = try HostTensor(shape: [3], data: [0.2, 0.1, -0.05])
        let adam = Adam(beta1: 0.9, beta2: 0.99, epsilon: 1e-5, weightDecay: .l2(0.01))
        try adam.update(&params, gradients: ["w": g1], learningRate: 0.1)
        try adam.update(&params, gradients: ["w": g2], learningRate: 0.05)
        let start: [Double] = [1, -2, 0.5]
        for i in 0..<3 {
            var theta = start[i], m = 0.0, v = 0.0
            for (t, (g, lr)) in [(Double(g1.data[i]), 0.1), (Double(g2.data[i]), 0.05)].enumerated() {
                let gg = g + 0.01 * theta
                m = 0.9 * m + 0.1 * gg; v = 0.99 * v + 0.01 * gg * gg
                let mh = m / (1 - pow(0.9, Double(t + 1))), vh = v / (1 - pow(0.99, Double(t + 1)))
                theta -= lr * mh / (vh.squareRoot() + 1e-5)
            }
            #expect(abs(Double(params["w"]!.data[i]) - theta) < 1e-6, "element \(i)")
        }
    }

    @Test func decoupledDecayAndSGDMomentum() throws {
        var a = ["w": try HostTensor(shape: [1], data: [2])]
        try Adam(weightDecay: .decoupled(0.1)).update(&a, gradients: ["w": try HostTensor(shape: [1], data: [0])], learningRate: 0.5)
        #expect(abs(a["w"]!.data[0] - 1.9) < 1e-6)  // zero gradient: only θ(1 − lr·wd)
        var s = ["w": try HostTensor(shape: [1], data: [1])]
        let sgd = SGD(momentum: 0.9)
        try sgd.update(&s, gradients: ["w": try HostTensor(shape: [1], data: [1])], learningRate: 0.1)
        try sgd.update(&s, gradients: ["w": try HostTensor(shape: [1], data: [1])], learningRate: 0.1)
        #expect(abs(s["w"]!.data[0] - (1 - 0.1 - 0.19)) < 1e-6)
    }

    @Test func clipping() throws {
        var g = ["a": try HostTensor(shape: [2], data: [3, -0.5]), "b": try HostTensor(shape: [1], data: [-4])]
        var byValue = g
        GradientClipping.value(1).apply(&byValue)
        #expect(byValue["a"]!.data == [1, -0.5] && byValue["b"]!.data == [-1])
        let norm = GradientClipping.norm(1).apply(&g)
        #expect(abs(norm - (9 + 0.25 + 16).squareRoot()) < 1e-9)
        let after = (g["a"]!.data + g["b"]!.data).reduce(0) { $0 + Double($1 * $1) }.squareRoot()
        #expect(abs(after - 1) < 1e-5)
    }

    @Test func schedules() {
        let s = LearningRateSchedule.segmentData(totalBatches: 1000)
        #expect(abs(s.multiplier(batch: 0) - 0.2) < 1e-12)
        #expect(abs(s.multiplier(batch: 125) - 0.6) < 1e-12)   // half-way through the warm-up
        #expect(s.multiplier(batch: 250) == 1 && s.multiplier(batch: 399) == 1)
        #expect(abs(s.multiplier(batch: 675) - 0.55) < 1e-12)  // half-way through the decay
        #expect(s.multiplier(batch: 950) == 0.1 && s.multiplier(batch: 5000) == 0.1)
        #expect(LearningRateSchedule.step(stepSize: 10, gamma: 0.5).multiplier(batch: 25) == 0.25)
        #expect(LearningRateSchedule.constant.learningRate(base: 0.01, batch: 7) == 0.01)
    }
}
