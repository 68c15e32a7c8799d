import Dispatch
import LegSegIO

/// Agreement of one label between a predicted and a reference label map.
///
/// Conventions (also in ARCHITECTURE.md):
/// - Surfaces are 6-connected boundaries: a label voxel is on the surface when one of its six face neighbours is
///   another label or lies outside the volume (`mask & ~binary_erosion(mask)` in scipy, border value 0).
/// - Distances are Euclidean in millimetres with the voxel spacing of the affine, from each surface voxel of one
///   map to the nearest surface voxel of the other (exact distance transform). The spacing is the length of
///   each affine column; a sheared affine (columns not orthogonal) is measured as if they were.
/// - `hausdorff95MM` is the larger of the two directed 95th percentiles (numpy's default linear interpolation);
///   `averageSurfaceDistanceMM` is the mean over both surfaces' distances pooled (average symmetric surface
///   distance).
/// - A label in neither map: Dice 1 and both distances 0 (nothing to find, nothing found); such labels appear
///   only when asked for and are left out of the means.
/// - A label in one map only: Dice 0 and both distances infinite (`nil`/`null`/`inf` when printed).
public struct LabelMetrics: Equatable, Sendable {
    public enum Presence: String, Sendable {
        case both, predictedOnly = "predicted_only", referenceOnly = "reference_only", neither
    }

    public let label: Int
    public let predictedVoxels: Int
    public let referenceVoxels: Int
    /// Voxels with this label in both maps.
    public let overlapVoxels: Int
    public let dice: Double
    public let hausdorff95MM: Double
    public let averageSurfaceDistanceMM: Double

    public init(label: Int, predictedVoxels: Int, referenceVoxels: Int, overlapVoxels: Int, dice: Double,
                hausdorff95MM: Double, averageSurfaceDistanceMM: Double) {
        self.label = label
        self.predictedVoxels = predictedVoxels
        self.referenceVoxels = referenceVoxels
        self.overlapVoxels = overlapVoxels
        self.dice = dice
        self.hausdorff95MM = hausdorff95MM
        self.averageSurfaceDistanceMM = averageSurfaceDistanceMM
    }

    public var presence: Presence {
        switch (predictedVoxels > 0, referenceVoxels > 0) {
        case (true, true): return .both
        case (true, false): return .predictedOnly
        case (false, true): return .referenceOnly
        case (false, false): return .neither
        }
    }
}

/// Per-label metrics and their means.
public struct SegmentationEvaluation: Equatable, Sendable {
    /// In increasing label order.
    public let labels: [LabelMetrics]

    public init(labels: [LabelMetrics]) { self.labels = labels }

    /// Mean Dice over labels present in at least one map (a missed or invented label counts as 0).
    public var meanDice: Double? { Self.mean(labels.filter { $0.presence != .neither }.map(\.dice)) }
    /// Mean HD95 over labels present in both maps (the others have no finite distance; Dice accounts for them).
    public var meanHausdorff95MM: Double? { Self.mean(labels.filter { $0.presence == .both }.map(\.hausdorff95MM)) }
    /// Mean average symmetric surface distance over labels present in both maps.
    public var meanAverageSurfaceDistanceMM: Double? { Self.mean(labels.filter { $0.presence == .both }.map(\.averageSurfaceDistanceMM)) }

    static func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
}

/// Dice, HD95 and average symmetric surface distance per label (conventions on `LabelMetrics`).
public enum SegmentationMetrics {
    /// Compares `predicted` with `reference`, which must be on the same grid (the error names `referenceFile`).
    /// `labels`: the labels to evaluate; by default every label other than 0 present in either map.
    public static func evaluate(predicted: Volume<Int32>, reference: Volume<Int32>, labels: [Int]? = nil,
                                predictedFile: String = "prediction", referenceFile: String = "reference") throws -> SegmentationEvaluation {
        try LabelVolume.checkSameGrid(predicted, file: predictedFile, reference, otherFile: referenceFile)
        try LabelVolume.checkLabels(predicted, file: predictedFile)
        try LabelVolume.checkLabels(reference, file: referenceFile)
        let census = LabelCensus(predicted: predicted.voxels, reference: reference.voxels, shape: predicted.shape)
        let wanted = (labels ?? census.presentLabels).filter { $0 > 0 }
        let selected = Array(Set(wanted)).sorted()
        let spacing = predicted.spacing
        var results = [LabelMetrics?](repeating: nil, count: selected.count)
        // Labels are independent; each works inside its own bounding box.
        results.withUnsafeMutableBufferPointer { out in
            // Each iteration writes only its own slot, so sharing the buffer across threads is safe.
            let slots = SharedSlots(buffer: out)
            DispatchQueue.concurrentPerform(iterations: selected.count) { n in
                slots.buffer[n] = metrics(for: selected[n], census: census, predicted: predicted.voxels,
                                   reference: reference.voxels, shape: predicted.shape, spacing: spacing)
            }
        }
        return SegmentationEvaluation(labels: results.map { $0! })
    }

    /// The same for label maps as read from NIfTI (float voxels that must hold integer labels).
    public static func evaluate(predicted: Volume<Float>, reference: Volume<Float>, labels: [Int]? = nil,
                                predictedFile: String = "prediction", referenceFile: String = "reference") throws -> SegmentationEvaluation {
        try LabelVolume.checkSameGrid(predicted, file: predictedFile, reference, otherFile: referenceFile)
        return try evaluate(predicted: LabelVolume.labels(from: predicted, file: predictedFile),
                            reference: LabelVolume.labels(from: reference, file: referenceFile),
                            labels: labels, predictedFile: predictedFile, referenceFile: referenceFile)
    }

    static func metrics(for label: Int, census: LabelCensus, predicted: [Int32], reference: [Int32],
                        shape: [Int], spacing: [Double]) -> LabelMetrics {
        let p = census.count(label, in: .predicted), r = census.count(label, in: .reference)
        let overlap = census.overlap(label)
        func result(_ dice: Double, _ hd95: Double, _ asd: Double) -> LabelMetrics {
            LabelMetrics(label: label, predictedVoxels: p, referenceVoxels: r, overlapVoxels: overlap,
                         dice: dice, hausdorff95MM: hd95, averageSurfaceDistanceMM: asd)
        }
        if p == 0 && r == 0 { return result(1, 0, 0) }
        if p == 0 || r == 0 { return result(0, .infinity, .infinity) }
        let dice = 2 * Double(overlap) / Double(p + r)

        // Both maps' voxels of this label lie in `box`, so outside it is background for both, and the nearest
        // surface voxel of either map is always inside it: distances computed in the box are exact.
        let box = census.box(label)
        let size = box.size
        let target = Int32(label)
        var predMask = [Bool](repeating: false, count: size[0] * size[1] * size[2])
        var refMask = predMask
        var n = 0
        for k in box.lower[2]..<box.upper[2] {
            for j in box.lower[1]..<box.upper[1] {
                var s = box.lower[0] + shape[0] * (j + shape[1] * k)
                for _ in box.lower[0]..<box.upper[0] {
                    predMask[n] = predicted[s] == target
                    refMask[n] = reference[s] == target
                    n += 1; s += 1
                }
            }
        }
        let predSurface = surface(of: predMask, shape: size)
        let refSurface = surface(of: refMask, shape: size)
        let toRef = DistanceTransform.squaredDistances(toFeatures: refSurface, shape: size, spacing: spacing)
        let toPred = DistanceTransform.squaredDistances(toFeatures: predSurface, shape: size, spacing: spacing)
        var predToRef: [Double] = [], refToPred: [Double] = []
        for n in 0..<predMask.count {
            if predSurface[n] { predToRef.append(toRef[n].squareRoot()) }
            if refSurface[n] { refToPred.append(toPred[n].squareRoot()) }
        }
        let hd95 = max(percentile(&predToRef, 95), percentile(&refToPred, 95))
        let asd = (predToRef.reduce(0, +) + refToPred.reduce(0, +)) / Double(predToRef.count + refToPred.count)
        return result(dice, hd95, asd)
    }

    /// Voxels of `mask` with a face neighbour outside the mask or outside the grid (6-connected boundary).
    static func surface(of mask: [Bool], shape: [Int]) -> [Bool] {
        let (ni, nj, nk) = (shape[0], shape[1], shape[2])
        var out = [Bool](repeating: false, count: mask.count)
        for k in 0..<nk {
            for j in 0..<nj {
                for i in 0..<ni {
                    let n = i + ni * (j + nj * k)
                    guard mask[n] else { continue }
                    out[n] = i == 0 || i == ni - 1 || j == 0 || j == nj - 1 || k == 0 || k == nk - 1
                        || !mask[n - 1] || !mask[n + 1] || !mask[n - ni] || !mask[n + ni]
                        || !mask[n - ni * nj] || !mask[n + ni * nj]
                }
            }
        }
        return out
    }

    /// The `q`th percentile with linear interpolation between closest ranks (numpy's default). Sorts `values`.
    static func percentile(_ values: inout [Double], _ q: Double) -> Double {
        values.sort()
        let position = Double(values.count - 1) * q / 100
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, values.count - 1)
        return values[lower] + (values[upper] - values[lower]) * (position - Double(lower))
    }
}

/// A buffer whose slots are written by different threads, each its own.
struct SharedSlots<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
}

/// Voxel counts, overlaps and bounding boxes of every label in both maps, from one pass over the volumes.
struct LabelCensus: Sendable {
    enum Map { case predicted, reference }

    private var predictedCounts: [Int]
    private var referenceCounts: [Int]
    private var overlaps: [Int]
    /// Box corners, three entries per label (`3 * label + axis`), flat for speed.
    private var lower: [Int]
    private var upper: [Int]

    init(predicted: [Int32], reference: [Int32], shape: [Int]) {
        let largest = Int(max(predicted.max() ?? 0, reference.max() ?? 0))
        let slots = largest + 1
        predictedCounts = [Int](repeating: 0, count: slots)
        referenceCounts = predictedCounts
        overlaps = predictedCounts
        lower = [Int](repeating: Int.max, count: 3 * slots)
        upper = [Int](repeating: 0, count: 3 * slots)
        func include(_ label: Int, _ i: Int, _ j: Int, _ k: Int) {
            let b = 3 * label
            lower[b] = min(lower[b], i); upper[b] = max(upper[b], i + 1)
            lower[b + 1] = min(lower[b + 1], j); upper[b + 1] = max(upper[b + 1], j + 1)
            lower[b + 2] = min(lower[b + 2], k); upper[b + 2] = max(upper[b + 2], k + 1)
        }
        var n = 0
        for k in 0..<shape[2] {
            for j in 0..<shape[1] {
                for i in 0..<shape[0] {
                    let a = Int(predicted[n]), b = Int(reference[n])
                    n += 1
                    if a == 0 && b == 0 { continue }
                    predictedCounts[a] += 1
                    referenceCounts[b] += 1
                    if a == b {
                        overlaps[a] += 1
                        include(a, i, j, k)
                    } else {
                        if a != 0 { include(a, i, j, k) }
                        if b != 0 { include(b, i, j, k) }
                    }
                }
            }
        }
    }

    /// Labels other than 0 present in either map, in increasing order.
    var presentLabels: [Int] {
        (1..<predictedCounts.count).filter { predictedCounts[$0] > 0 || referenceCounts[$0] > 0 }
    }

    func count(_ label: Int, in map: Map) -> Int {
        guard label >= 0, label < predictedCounts.count else { return 0 }
        return map == .predicted ? predictedCounts[label] : referenceCounts[label]
    }

    func overlap(_ label: Int) -> Int { label >= 0 && label < overlaps.count ? overlaps[label] : 0 }

    /// The box holding every voxel of `label` in either map (only for a label present in one of them).
    func box(_ label: Int) -> VoxelBox {
        VoxelBox(lower: Array(lower[(3 * label)..<(3 * label + 3)]), upper: Array(upper[(3 * label)..<(3 * label + 3)]))
    }
}
