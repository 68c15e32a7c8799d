import Foundation

/// Body regions along the leg, ordered from inferior to superior (the order a canonical volume's slices run).
public enum BodyRegion: Int, Codable, Sendable, CaseIterable, Comparable {
    case ankle = 0, lowerLeg, knee, thigh, hip

    public var name: String {
        switch self {
        case .ankle: "ankle"
        case .lowerLeg: "lower leg"
        case .knee: "knee"
        case .thigh: "thigh"
        case .hip: "hip"
        }
    }

    public static func < (a: BodyRegion, b: BodyRegion) -> Bool { a.rawValue < b.rawValue }
}

/// Which network segments which slices: knee slices go to both leg networks (spec §1.3 step 5), hip slices
/// also to the thigh network.
public enum SegmentationRegion: String, Codable, Sendable, CaseIterable {
    case thigh, lowerLeg = "lowerleg"

    public var bodyRegions: Set<BodyRegion> {
        switch self {
        case .thigh: [.knee, .thigh, .hip]
        case .lowerLeg: [.ankle, .lowerLeg, .knee]
        }
    }
}

/// Fits per-slice region probabilities with a staircase: regions may only go up from inferior to superior
/// slices, and every region between the first and the last lasts at least a minimum length in millimetres.
///
/// This is the exact dynamic programme suggested in spec §6.7 in place of the original's MILP: levels may be
/// skipped (a scan need not contain every region), the first and last runs may be cut short by the field of
/// view, and staying on one region is always allowed, so the fit is never infeasible (unlike spec §6.6 quirk 4).
public struct RegionFit: Sendable {
    /// Minimum extent of an inner region, in millimetres.
    public var minimumRunMM = 30.0

    public init(minimumRunMM: Double = 30) { self.minimumRunMM = minimumRunMM }

    /// The region of every slice. `probabilities[s][r]` is the classifier's probability that slice `s` (inferior
    /// first) shows region `r` (`BodyRegion.rawValue`); rows need not be normalised. Minimises the summed
    /// negative log probability.
    public func fit(_ probabilities: [[Double]], sliceThicknessMM: Double) -> [BodyRegion] {
        let n = probabilities.count
        let levels = BodyRegion.allCases.count
        guard n > 0 else { return [] }
        let minRun = max(1, Int((minimumRunMM / max(sliceThicknessMM, 1e-6)).rounded(.up)))
        func cost(_ s: Int, _ l: Int) -> Double {
            let row = probabilities[s]
            let total = row.reduce(0, +)
            let p = l < row.count && total > 0 ? row[l] / total : 0
            return -log(max(p, 1e-9))
        }
        // State (level, run length capped at minRun); the first run counts as complete from the start.
        let runs = minRun + 1
        let infinity = Double.infinity
        var best = [Double](repeating: infinity, count: levels * runs)
        var back = [[Int32]](repeating: [Int32](repeating: -1, count: levels * runs), count: n)
        for l in 0..<levels { best[l * runs + minRun] = cost(0, l) }
        for s in 1..<n {
            var next = [Double](repeating: infinity, count: levels * runs)
            for l in 0..<levels {
                let c = cost(s, l)
                for r in 1...minRun {
                    let from = best[l * runs + r]
                    guard from < infinity else { continue }
                    // Stay on the same level.
                    let stay = l * runs + min(minRun, r + 1)
                    if from + c < next[stay] { next[stay] = from + c; back[s][stay] = Int32(l * runs + r) }
                }
                // Enter level l from a lower level whose run is complete; the new run has length 1.
                let enter = l * runs + 1
                for lower in 0..<l {
                    let from = best[lower * runs + minRun]
                    if from + c < next[enter] { next[enter] = from + c; back[s][enter] = Int32(lower * runs + minRun) }
                }
            }
            best = next
        }
        // The last run may be short: any state may end the scan.
        var state = best.indices.min { best[$0] < best[$1] }!
        var out = [BodyRegion](repeating: .ankle, count: n)
        for s in stride(from: n - 1, through: 0, by: -1) {
            out[s] = BodyRegion(rawValue: state / runs)!
            if s > 0 { state = Int(back[s][state]) }
        }
        return out
    }

    /// The slice range (inferior first) each segmentation region covers, or nil when it has no slice.
    public static func sliceRanges(_ regions: [BodyRegion]) -> [SegmentationRegion: Range<Int>] {
        var out: [SegmentationRegion: Range<Int>] = [:]
        for target in SegmentationRegion.allCases {
            let hits = regions.indices.filter { target.bodyRegions.contains(regions[$0]) }
            if let first = hits.first, let last = hits.last { out[target] = first..<(last + 1) }
        }
        return out
    }
}
