import Foundation
import LegSegEngine

/// A loss on class probabilities `p` `[N, C, spatial...]` (or `[N, C]`) against a target of the same shape
/// (one-hot or soft labels). Returns the value and dL/dp; the gradient goes back through the network's softmax.
/// Sums are accumulated in double precision.
///
/// A voxel whose target is zero in every class is unlabelled (a pseudo-label too uncertain to use, see
/// `legseg train --unlabelled`): every loss leaves it out, exactly as if it were not in the batch, and its gradient is 0.
public protocol Loss: Sendable {
    var name: String { get }
    func evaluate(_ probabilities: HostTensor, target: HostTensor) throws -> (value: Double, gradient: HostTensor)
    /// Adds `weight`·dL/dp to `gradient` (of `probabilities`' shape) and returns L: the combined loss sums its terms
    /// this way in one buffer. The default goes through `evaluate`.
    func accumulate(_ probabilities: HostTensor, target: HostTensor, weight: Double, into gradient: inout HostTensor) throws -> Double
}

extension Loss {
    public func accumulate(_ probabilities: HostTensor, target: HostTensor, weight: Double,
                           into gradient: inout HostTensor) throws -> Double {
        let (value, g) = try evaluate(probabilities, target: target)
        let w = Float(weight)
        gradient.data.withUnsafeMutableBufferPointer { out in
            g.data.withUnsafeBufferPointer { src in for i in out.indices { out[i] += w * src[i] } }
        }
        return value
    }
}

/// Which voxels (`b·inner + v`) carry a target (`ClassLayout.labelled`); `mask` nil when all do.
struct LabelledVoxels {
    let mask: [Bool]?
    init(_ target: HostTensor) { mask = target.rank >= 2 ? ClassLayout(shapeOf: target).labelled(target) : nil }
}

/// The losses below implement `accumulate` with their loops over raw buffers (a training step evaluates six of them
/// on tens of millions of probabilities), given the target's labelled voxels (the combined loss finds them once for
/// all its terms), and `evaluate` as `accumulate` into zeros.
protocol BufferLoss: Loss {
    func accumulate(_ p: HostTensor, target: HostTensor, labelled: LabelledVoxels, weight: Double,
                    into gradient: inout HostTensor) throws -> Double
}

extension BufferLoss {
    public func evaluate(_ p: HostTensor, target t: HostTensor) throws -> (value: Double, gradient: HostTensor) {
        var g = HostTensor(zeros: p.shape)
        let value = try accumulate(p, target: t, weight: 1, into: &g)
        return (value, g)
    }

    public func accumulate(_ p: HostTensor, target t: HostTensor, weight: Double, into g: inout HostTensor) throws -> Double {
        try accumulate(p, target: t, labelled: LabelledVoxels(t), weight: weight, into: &g)
    }
}

/// The raw buffers of probabilities, targets and the gradient being accumulated, for the losses' inner loops.
private func withLossBuffers(_ p: HostTensor, _ t: HostTensor, _ g: inout HostTensor,
                             _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>) -> Void) {
    p.data.withUnsafeBufferPointer { pd in
        t.data.withUnsafeBufferPointer { td in
            g.data.withUnsafeMutableBufferPointer { gd in body(pd, td, gd) }
        }
    }
}

/// Layout helper: `[N, C, inner]` with index `(n·C + c)·inner + v`.
struct ClassLayout {
    let n: Int, c: Int, inner: Int
    init(_ p: HostTensor, _ t: HostTensor, weights: [Float]?, loss: String) throws {
        guard p.shape == t.shape, p.rank >= 2 else {
            throw TrainingError("\(loss): prediction \(p.shape) and target \(t.shape) must have the same shape [N, C, ...]")
        }
        self.init(shapeOf: p)
        if let weights, weights.count != c {
            throw TrainingError("\(loss): \(weights.count) class weights for \(c) classes")
        }
    }
    init(shapeOf t: HostTensor) { n = t.shape[0]; c = t.shape[1]; inner = t.shape.dropFirst(2).reduce(1, *) }
    var voxels: Int { n * inner }
    @inline(__always) func index(_ b: Int, _ k: Int, _ v: Int) -> Int { (b * c + k) * inner + v }

    /// Which voxels (`b·inner + v`) carry a target; nil when all do (the common case: no extra work below).
    func labelled(_ t: HostTensor) -> [Bool]? {
        var mask = [Bool](repeating: false, count: voxels)
        t.data.withUnsafeBufferPointer { td in
            mask.withUnsafeMutableBufferPointer { m in
                for b in 0..<n {
                    for k in 0..<c {
                        let base = index(b, k, 0)
                        for v in 0..<inner where td[base + v] != 0 { m[b * inner + v] = true }
                    }
                }
            }
        }
        return mask.allSatisfy { $0 } ? nil : mask
    }
}

/// The overlap family of the original (spec 4.4), per class over the whole batch:
/// `TP = Σ t·p`, `TPn = Σ t·pⁿ`, `FPn = Σ (1−t)·pⁿ`, `FNn = Σ t·(1−pⁿ)`,
/// `L_c = 1 − (TP + 1) / (TPn + α·FPn + β·FNn + 1)`; the loss is the (class-weighted) mean over all classes,
/// background included.
public struct OverlapLoss: BufferLoss {
    public var name: String
    public var alpha: Double
    public var beta: Double
    public var exponent: Double
    public var classWeights: [Float]?

    public init(name: String, alpha: Double, beta: Double, exponent: Double, classWeights: [Float]? = nil) {
        self.name = name; self.alpha = alpha; self.beta = beta; self.exponent = exponent; self.classWeights = classWeights
    }

    /// Soft Dice: α = β = ½, n = 1 (`1 − (TP+1)/(TP + ½FP + ½FN + 1)` = the usual Dice with smoothing 1).
    public static func softDice(classWeights: [Float]? = nil) -> OverlapLoss {
        OverlapLoss(name: "softDice", alpha: 0.5, beta: 0.5, exponent: 1, classWeights: classWeights)
    }
    /// Squared (V-Net) Dice, the original's "Dice": α = β = ½, n = 2.
    public static func squaredDice(classWeights: [Float]? = nil) -> OverlapLoss {
        OverlapLoss(name: "squaredDice", alpha: 0.5, beta: 0.5, exponent: 2, classWeights: classWeights)
    }
    /// Jaccard: α = β = 1, n = 2.
    public static func jaccard(classWeights: [Float]? = nil) -> OverlapLoss {
        OverlapLoss(name: "jaccard", alpha: 1, beta: 1, exponent: 2, classWeights: classWeights)
    }
    /// Tversky: α = 0.3, β = 0.7, n = 1 (false negatives cost more).
    public static func tversky(alpha: Double = 0.3, beta: Double = 0.7, classWeights: [Float]? = nil) -> OverlapLoss {
        OverlapLoss(name: "tversky", alpha: alpha, beta: beta, exponent: 1, classWeights: classWeights)
    }

    func accumulate(_ p: HostTensor, target t: HostTensor, labelled voxels: LabelledVoxels, weight: Double,
                    into g: inout HostTensor) throws -> Double {
        let l = try ClassLayout(p, t, weights: classWeights, loss: name)
        let n = exponent
        let labelled = voxels.mask
        var tp = [Double](repeating: 0, count: l.c), tpn = tp, fpn = tp, fnn = tp
        p.data.withUnsafeBufferPointer { pd in
            t.data.withUnsafeBufferPointer { td in
                for b in 0..<l.n {
                    for k in 0..<l.c {
                        let base = l.index(b, k, 0)
                        var sTP = 0.0, sTPn = 0.0, sFPn = 0.0, sFNn = 0.0
                        for v in 0..<l.inner {
                            if let labelled, !labelled[b * l.inner + v] { continue }
                            let pv = Double(pd[base + v]), tv = Double(td[base + v])
                            let pn = n == 2 ? pv * pv : (n == 1 ? pv : pow(pv, n))
                            sTP += tv * pv; sTPn += tv * pn; sFPn += (1 - tv) * pn; sFNn += tv * (1 - pn)
                        }
                        tp[k] += sTP; tpn[k] += sTPn; fpn[k] += sFPn; fnn[k] += sFNn
                    }
                }
            }
        }
        let w = (classWeights ?? [Float](repeating: 1, count: l.c)).map(Double.init)
        let wSum = w.reduce(0, +)
        var value = 0.0
        var dA = [Double](repeating: 0, count: l.c), dB = dA
        for k in 0..<l.c {
            let a = tp[k] + 1, bb = tpn[k] + alpha * fpn[k] + beta * fnn[k] + 1
            value += w[k] * (1 - a / bb)
            // dL/dp = (w/W)·(−dA·B + A·dB)/B² with dA = t and dB = n·pⁿ⁻¹·(t + α(1−t) − βt).
            dA[k] = weight * -w[k] / wSum / bb
            dB[k] = weight * w[k] / wSum * a / (bb * bb)
        }
        let (alpha, beta) = (self.alpha, self.beta)
        withLossBuffers(p, t, &g) { pd, td, gd in
            for b in 0..<l.n {
                for k in 0..<l.c {
                    let base = l.index(b, k, 0)
                    let (ak, bk) = (dA[k], dB[k])
                    for v in 0..<l.inner {
                        if let labelled, !labelled[b * l.inner + v] { continue }
                        let pv = Double(pd[base + v]), tv = Double(td[base + v])
                        let dpn = n == 2 ? 2 * pv : (n == 1 ? 1 : n * pow(pv, n - 1))
                        gd[base + v] += Float(ak * tv + bk * dpn * (tv + alpha * (1 - tv) - beta * tv))
                    }
                }
            }
        }
        return value / wSum
    }
}

/// Cross-entropy on probabilities: mean over voxels of `−w·log(Σ_c t·p + ε)` (spec 4.4, ε = 1e−15), where the
/// voxel weight `w = Σ_c w_c·t_c` is 1 without class weights.
public struct CrossEntropyLoss: BufferLoss {
    public var name = "crossEntropy"
    public var classWeights: [Float]?
    public var epsilon: Double = 1e-15
    public init(classWeights: [Float]? = nil) { self.classWeights = classWeights }

    func accumulate(_ p: HostTensor, target t: HostTensor, labelled: LabelledVoxels, weight: Double,
                    into g: inout HostTensor) throws -> Double {
        try focalLike(p, t, labelled, weights: classWeights, loss: name, weight: weight, into: &g) { q in
            let lq = log(q + epsilon)
            return (-lq, -1 / (q + epsilon))
        }
    }
}

/// Focal loss: `scale · mean(−log(q + ε)·(1 − q)^γ)` with `q = Σ_c t·p`; the original uses γ = 2 and scale 2.
public struct FocalLoss: BufferLoss {
    public var name = "focal"
    public var gamma: Double
    public var scale: Double
    public var classWeights: [Float]?
    public var epsilon: Double = 1e-15
    public init(gamma: Double = 2, scale: Double = 2, classWeights: [Float]? = nil) {
        self.gamma = gamma; self.scale = scale; self.classWeights = classWeights
    }

    func accumulate(_ p: HostTensor, target t: HostTensor, labelled: LabelledVoxels, weight: Double,
                    into g: inout HostTensor) throws -> Double {
        let (gamma, scale, epsilon) = (self.gamma, self.scale, self.epsilon)
        return try focalLike(p, t, labelled, weights: classWeights, loss: name, weight: weight, into: &g) { q in
            let lq = log(q + epsilon), r = max(1 - q, 0)
            let f = -lq * pow(r, gamma)
            let df = -pow(r, gamma) / (q + epsilon) + (r > 0 ? gamma * pow(r, gamma - 1) * lq : 0)
            return (scale * f, scale * df)
        }
    }
}

/// Shared body of per-voxel losses of `q = Σ_c t·p`: `f(q)` returns the voxel loss and its derivative.
private func focalLike(_ p: HostTensor, _ t: HostTensor, _ voxels: LabelledVoxels, weights: [Float]?, loss: String,
                       weight: Double, into g: inout HostTensor, _ f: (Double) -> (Double, Double)) throws -> Double {
    let l = try ClassLayout(p, t, weights: weights, loss: loss)
    var total = 0.0
    let labelled = voxels.mask
    let scale = 1 / Double(max(labelled.map { $0.lazy.filter { $0 }.count } ?? l.voxels, 1))
    let classWeights = weights.map { $0.map(Double.init) }
    var q = [Double](repeating: 0, count: l.inner), w = q
    withLossBuffers(p, t, &g) { pd, td, gd in
        for b in 0..<l.n {
            // q and the voxel weight per voxel, class by class over contiguous rows.
            for v in 0..<l.inner { q[v] = 0; w[v] = classWeights == nil ? 1 : 0 }
            for k in 0..<l.c {
                let base = l.index(b, k, 0)
                for v in 0..<l.inner { q[v] += Double(td[base + v]) * Double(pd[base + v]) }
                if let classWeights { for v in 0..<l.inner { w[v] += classWeights[k] * Double(td[base + v]) } }
            }
            for v in 0..<l.inner {
                if let labelled, !labelled[b * l.inner + v] { q[v] = 0; continue }
                let (value, derivative) = f(q[v])
                total += w[v] * value
                q[v] = w[v] * derivative * scale * weight  // now the gradient factor of the voxel
            }
            for k in 0..<l.c {
                let base = l.index(b, k, 0)
                for v in 0..<l.inner { gd[base + v] += Float(q[v] * Double(td[base + v])) }
            }
        }
    }
    return total * scale
}

/// Mean squared error over voxels and classes, times `scale` (the original: 75); class weights weight the
/// per-class means.
public struct MeanSquaredErrorLoss: BufferLoss {
    public var name = "meanSquaredError"
    public var scale: Double
    public var classWeights: [Float]?
    public init(scale: Double = 75, classWeights: [Float]? = nil) { self.scale = scale; self.classWeights = classWeights }

    func accumulate(_ p: HostTensor, target t: HostTensor, labelled voxels: LabelledVoxels, weight: Double,
                    into g: inout HostTensor) throws -> Double {
        let l = try ClassLayout(p, t, weights: classWeights, loss: name)
        let w = (classWeights ?? [Float](repeating: 1, count: l.c)).map(Double.init)
        let labelled = voxels.mask
        let denominator = Double(max(labelled.map { $0.lazy.filter { $0 }.count } ?? l.voxels, 1)) * w.reduce(0, +)
        var total = 0.0
        let scale = self.scale
        withLossBuffers(p, t, &g) { pd, td, gd in
            for b in 0..<l.n {
                for k in 0..<l.c {
                    let base = l.index(b, k, 0)
                    let factor = weight * scale * w[k] * 2 / denominator
                    var sum = 0.0
                    for v in 0..<l.inner {
                        if let labelled, !labelled[b * l.inner + v] { continue }
                        let d = Double(pd[base + v]) - Double(td[base + v])
                        sum += d * d
                        gd[base + v] += Float(factor * d)
                    }
                    total += w[k] * sum
                }
            }
        }
        return scale * total / denominator
    }
}

/// A weighted sum of losses. `segmentDataDefault` is the original's `LossFunction -> All`:
/// squared Dice + MSE(×75) + Tversky + cross-entropy + Jaccard + focal, equal weights.
public struct CombinedLoss: Loss {
    public var name = "combined"
    public var terms: [(weight: Double, loss: any Loss)]
    public init(_ terms: [(weight: Double, loss: any Loss)]) { self.terms = terms }

    public static func segmentDataDefault(classWeights: [Float]? = nil) -> CombinedLoss {
        CombinedLoss([(1, OverlapLoss.squaredDice(classWeights: classWeights)),
                      (1, MeanSquaredErrorLoss(classWeights: classWeights)),
                      (1, OverlapLoss.tversky(classWeights: classWeights)),
                      (1, CrossEntropyLoss(classWeights: classWeights)),
                      (1, OverlapLoss.jaccard(classWeights: classWeights)),
                      (1, FocalLoss(classWeights: classWeights))])
    }

    public func evaluate(_ p: HostTensor, target: HostTensor) throws -> (value: Double, gradient: HostTensor) {
        var gradient = HostTensor(zeros: p.shape)
        let value = try accumulate(p, target: target, weight: 1, into: &gradient)
        return (value, gradient)
    }

    public func accumulate(_ p: HostTensor, target: HostTensor, weight: Double, into gradient: inout HostTensor) throws -> Double {
        var value = 0.0
        var labelled: LabelledVoxels?  // found once for every term that takes it
        for (w, loss) in terms {
            if let loss = loss as? any BufferLoss {
                let voxels = labelled ?? LabelledVoxels(target)
                labelled = voxels
                value += w * (try loss.accumulate(p, target: target, labelled: voxels, weight: weight * w, into: &gradient))
            } else {
                value += w * (try loss.accumulate(p, target: target, weight: weight * w, into: &gradient))
            }
        }
        return value
    }
}

extension HostTensor {
    /// One-hot targets `[N, classes, spatial...]` from integer labels in row-major `[N, spatial...]` order. A voxel
    /// labelled `unlabelled` gets an all-zero target, which every loss leaves out.
    public static func oneHot(labels: [Int], classes: Int, shape: [Int], unlabelled: Int? = nil) throws -> HostTensor {
        guard shape.count >= 1, shape.reduce(1, *) == labels.count else {
            throw TrainingError("one-hot: \(labels.count) labels for shape \(shape)")
        }
        let n = shape[0], inner = shape.dropFirst().reduce(1, *)
        var t = HostTensor(zeros: [n, classes] + shape.dropFirst())
        for b in 0..<n {
            for v in 0..<inner {
                let label = labels[b * inner + v]
                if label == unlabelled { continue }
                guard label >= 0, label < classes else { throw TrainingError("one-hot: label \(label) outside 0..<\(classes)") }
                t.data[(b * classes + label) * inner + v] = 1
            }
        }
        return t
    }
}
