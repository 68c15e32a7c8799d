import Foundation

/// Sliding-window patch positions over a volume (axes `(i, j, k)`).
///
/// Per axis, starts are spread evenly so that the first patch sits at 0 and the last flush with the end, with
/// neighbouring patches overlapping by at least `overlap` of the patch length. Example: data 100, patch 40,
/// overlap 0.5 → step ≤ 20 → k = ⌈60/20⌉ + 1 = 4 patches at 0, 20, 40, 60. A patch longer than the data
/// starts at 0 and reaches past the end (the caller pads with zeros).
public struct PatchGrid: Equatable, Sendable {
    public let dataShape: [Int]
    public let patchSize: [Int]
    /// Start positions along each axis.
    public let starts: [[Int]]

    public init(dataShape: [Int], patchSize: [Int], overlap: Double = 0.5) {
        precondition(dataShape.count == 3 && patchSize.count == 3 && patchSize.allSatisfy { $0 > 0 })
        precondition(overlap >= 0 && overlap < 1)
        self.dataShape = dataShape
        self.patchSize = patchSize
        starts = (0..<3).map { PatchGrid.axisStarts(length: dataShape[$0], patch: patchSize[$0], overlap: overlap) }
    }

    static func axisStarts(length: Int, patch: Int, overlap: Double) -> [Int] {
        guard length > patch else { return [0] }
        let maxStep = max(1.0, Double(patch) * (1 - overlap))
        let k = Int((Double(length - patch) / maxStep).rounded(.up)) + 1
        return (0..<k).map { j in Int((Double(j) * Double(length - patch) / Double(k - 1)).rounded(.toNearestOrEven)) }
    }

    /// Every patch origin, `i` varying fastest.
    public var origins: [[Int]] {
        var out: [[Int]] = []
        for k in starts[2] { for j in starts[1] { for i in starts[0] { out.append([i, j, k]) } } }
        return out
    }

    public var count: Int { starts.reduce(1) { $0 * $1.count } }
}

/// Patch weights that fall off toward the patch border (Gaussian, σ = size/8 per axis, as nnU-Net), so that
/// overlapping predictions are dominated by the patch that sees a voxel nearest its centre. The smallest weight
/// is raised to the smallest positive value so dividing by summed weights never divides by zero.
public struct GaussianWeights: Sendable {
    public let size: [Int]
    /// Weights, `i` fastest; the maximum is 1.
    public let weights: [Float]

    public init(size: [Int], sigmaFraction: Double = 1.0 / 8) {
        self.size = size
        let axes: [[Double]] = (0..<3).map { a in
            let n = size[a], centre = Double(n - 1) / 2, sigma = max(sigmaFraction * Double(n), 1e-6)
            return (0..<n).map { exp(-pow(Double($0) - centre, 2) / (2 * sigma * sigma)) }
        }
        var w = [Float](repeating: 0, count: size.reduce(1, *))
        var n = 0
        for k in 0..<size[2] { for j in 0..<size[1] { for i in 0..<size[0] {
            w[n] = Float(axes[0][i] * axes[1][j] * axes[2][k]); n += 1
        } } }
        let top = w.max() ?? 1
        let smallestPositive = w.filter { $0 > 0 }.min().map { $0 / top } ?? 1
        weights = w.map { max($0 / top, smallestPositive) }
    }
}

/// Accumulates Gaussian-weighted class probabilities of overlapping patches and decodes them once at the end
/// (spec §6.7: average probabilities, then take the arg-max, instead of per-patch arg-max and union).
public struct ProbabilityAccumulator: Sendable {
    public let shape: [Int]
    public let classes: Int
    /// Weighted probability sums, class-major: `sums[c * voxels + v]`.
    public private(set) var sums: [Float]
    public private(set) var weightSums: [Float]

    public init(shape: [Int], classes: Int) {
        self.shape = shape
        self.classes = classes
        let voxels = shape.reduce(1, *)
        sums = [Float](repeating: 0, count: voxels * classes)
        weightSums = [Float](repeating: 0, count: voxels)
    }

    /// Adds one patch's probabilities (`probabilities[c * patchVoxels + p]`, patch voxels `i` fastest) whose
    /// voxel 0 lies at `origin`; parts outside the volume are dropped.
    public mutating func add(_ probabilities: [Float], origin: [Int], weights: GaussianWeights) {
        let size = weights.size
        let patchVoxels = size.reduce(1, *)
        precondition(probabilities.count == patchVoxels * classes, "patch probabilities do not match the patch size")
        let voxels = shape.reduce(1, *)
        let lo = (0..<3).map { max(0, origin[$0]) }, hi = (0..<3).map { min(shape[$0], origin[$0] + size[$0]) }
        guard (0..<3).allSatisfy({ lo[$0] < hi[$0] }) else { return }
        let (nx, ny) = (shape[0], shape[1])
        sums.withUnsafeMutableBufferPointer { sum in
            weightSums.withUnsafeMutableBufferPointer { wsum in
                probabilities.withUnsafeBufferPointer { prob in
                    weights.weights.withUnsafeBufferPointer { w in
                        for k in lo[2]..<hi[2] {
                            for j in lo[1]..<hi[1] {
                                let pRow = (j - origin[1]) * size[0] + (k - origin[2]) * size[0] * size[1] - origin[0]
                                let vRow = j * nx + k * nx * ny
                                for i in lo[0]..<hi[0] {
                                    let p = pRow + i, v = vRow + i
                                    let weight = w[p]
                                    wsum[v] += weight
                                    for c in 0..<classes { sum[c * voxels + v] += weight * prob[c * patchVoxels + p] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Averaged probability of class `c` at voxel `v` (0 where no patch reached).
    public func probability(_ c: Int, at v: Int) -> Float {
        weightSums[v] > 0 ? sums[c * weightSums.count + v] / weightSums[v] : 0
    }

    /// Averaged probabilities, class-major like `sums` (0 where no patch reached).
    public func averaged() -> [Float] {
        let voxels = weightSums.count
        var out = sums
        for v in 0..<voxels where weightSums[v] > 0 {
            let w = 1 / weightSums[v]
            for c in 0..<classes { out[c * voxels + v] *= w }
        }
        return out
    }

    /// Arg-max class and its averaged probability per voxel (ties → lowest class; unreached voxels → class 0).
    public func decode() -> (classes: [Int32], confidence: [Float]) {
        let voxels = weightSums.count
        var labels = [Int32](repeating: 0, count: voxels), confidence = [Float](repeating: 0, count: voxels)
        for v in 0..<voxels where weightSums[v] > 0 {
            var best = 0, bestValue = sums[v]
            for c in 1..<classes where sums[c * voxels + v] > bestValue { best = c; bestValue = sums[c * voxels + v] }
            labels[v] = Int32(best)
            confidence[v] = bestValue / weightSums[v]
        }
        return (labels, confidence)
    }
}

/// Chooses a patch size for a memory budget: the largest patch (each axis a multiple of the network's
/// down-sampling step, no larger than the data rounded up to that step) whose estimated memory fits, preferring
/// in-plane shapes with the data's aspect ratio (spec §1.6.3, enumerated exactly).
public struct PatchSizePlanner: Sendable {
    /// Per-axis multiple every patch side must be (product of the down-sampling factors).
    public var step: [Int]
    /// Memory that does not grow with the patch (weights, primitive caches), in bytes.
    public var fixedBytes: Double
    /// Memory per patch voxel at peak (activations, probabilities), in bytes.
    public var bytesPerVoxel: Double

    public init(step: [Int], fixedBytes: Double, bytesPerVoxel: Double) {
        self.step = step
        self.fixedBytes = fixedBytes
        self.bytesPerVoxel = bytesPerVoxel
    }

    public func patchSize(for dataShape: [Int], budgetBytes: Double) -> [Int] {
        let cap = (0..<3).map { a in max(step[a], Int((Double(dataShape[a]) / Double(step[a])).rounded(.up)) * step[a]) }
        let maxVoxels = max(0, (budgetBytes - fixedBytes) / bytesPerVoxel)
        let ratio = Double(cap[1]) / Double(cap[0])
        var best = step, bestScore = -Double.infinity
        for z in stride(from: step[2], through: cap[2], by: step[2]) {
            for y in stride(from: step[1], through: cap[1], by: step[1]) {
                for x in stride(from: step[0], through: cap[0], by: step[0]) {
                    let volume = Double(x * y * z)
                    guard volume <= maxVoxels else { break }
                    let rx = ratio * Double(x)
                    let score = volume * (1 - pow(Double(y) - rx, 2) / (rx * rx))
                    if score > bestScore { bestScore = score; best = [x, y, z] }
                }
            }
        }
        return best
    }
}
