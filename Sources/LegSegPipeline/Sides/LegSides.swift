import Foundation
import LegSegIO

/// The subject's side a leg (or a label) belongs to.
public enum Side: String, Codable, Sendable, CaseIterable {
    case left, right
}

/// One leg's share of a canonical volume: the columns (canonical `i`, which runs from the subject's right to
/// left) that hold it, including the overlap strip shared with the other leg.
public struct LegPart: Equatable, Sendable {
    public var side: Side
    /// Columns the network sees for this leg (its own plus the shared overlap strip, for context).
    public var columns: Range<Int>
    /// Columns whose labels this leg writes: its side of the cut only, so the overlap strip never carries the
    /// other leg's labels with this leg's side.
    public var owned: Range<Int>

    public init(side: Side, columns: Range<Int>, owned: Range<Int>? = nil) {
        self.side = side
        self.columns = columns
        self.owned = owned ?? columns
    }
}

/// Finds one or two legs in a canonical (LPS) foreground mask and splits them at the gap between them.
///
/// Unlike the original's single global intensity profile (spec §1.4), two separate legs are found as the two
/// largest connected components of the mask; legs that touch form one component and are split at the deepest
/// valley of the mask's column profile when there is a clear one. Left and right come from the canonical
/// layout, i.e. from the affine: low `i` is the subject's right.
public struct LegSides: Sendable {
    /// Width of the strip given to both legs, as a fraction of the volume width (spec: 10 %).
    public var overlapFraction = 0.1
    /// A second component counts as a leg when it has at least this fraction of the largest one's voxels.
    public var secondLegFraction = 0.2
    /// Touching legs: the profile valley must be below this fraction of the lower of the two peaks beside it.
    public var valleyDepth = 0.6

    public init() {}

    /// The legs found in `mask` (which must be in canonical orientation), right leg first. Empty for an empty
    /// mask. A single leg gets its side from world coordinates: the side of the scanner's midline (x = 0, the
    /// isocentre, which lies between the legs in scanner coordinates) its centre lies on.
    public func split(_ mask: Volume<UInt8>) -> [LegPart] {
        let nx = mask.shape[0]
        guard mask.voxels.contains(where: { $0 != 0 }) else { return [] }
        let profile = columnProfile(mask)
        let overlap = Int((overlapFraction * Double(nx)).rounded(.toNearestOrEven))
        if let cut = cutBetweenComponents(mask, profile: profile) ?? cutAtValley(profile) ?? cutAtValley(separatedSlicesProfile(mask)) {
            return [LegPart(side: .right, columns: 0..<min(nx, cut + overlap), owned: 0..<cut),
                    LegPart(side: .left, columns: max(0, cut - overlap)..<nx, owned: cut..<nx)]
        }
        return [LegPart(side: singleLegSide(mask, profile: profile), columns: 0..<nx)]
    }

    /// Mask voxels per column `i`.
    func columnProfile(_ mask: Volume<UInt8>) -> [Double] {
        var p = [Double](repeating: 0, count: mask.shape[0])
        mask.voxels.withUnsafeBufferPointer { v in
            for n in v.indices where v[n] != 0 { p[n % mask.shape[0]] += 1 }
        }
        return p
    }

    /// Two large components: cut at the emptiest column between their centres.
    func cutBetweenComponents(_ mask: Volume<UInt8>, profile: [Double]) -> Int? {
        let components = ConnectedComponents(mask)
        guard components.sizes.count >= 2, Double(components.sizes[1]) >= secondLegFraction * Double(components.sizes[0]) else { return nil }
        var sum = [0.0, 0.0], count = [0.0, 0.0]
        for (n, c) in components.labels.enumerated() where c == 1 || c == 2 {
            sum[Int(c) - 1] += Double(n % mask.shape[0]); count[Int(c) - 1] += 1
        }
        let a = Int(sum[0] / count[0]), b = Int(sum[1] / count[1])
        let (lo, hi) = (min(a, b), max(a, b))
        guard hi - lo >= 2 else { return nil }  // one above the other, not side by side
        return (lo...hi).min { profile[$0] < profile[$1] }
    }

    /// One component: the deepest valley of the smoothed profile in the middle half of the mask's extent,
    /// when it is clearly lower than the peaks on both sides.
    func cutAtValley(_ profile: [Double]) -> Int? {
        guard let first = profile.firstIndex(where: { $0 > 0 }), let last = profile.lastIndex(where: { $0 > 0 }) else { return nil }
        let width = last - first + 1
        guard width >= 8 else { return nil }
        let smooth = Morphology.gaussian(profile.map(Float.init), shape: [profile.count, 1, 1], sigma: Double(width) / 50 + 0.5,
                                         radius: max(1, width / 25)).map(Double.init)
        let lo = first + width / 4, hi = last - width / 4
        guard lo < hi, let valley = (lo...hi).min(by: { smooth[$0] < smooth[$1] }) else { return nil }
        let leftPeak = smooth[first...valley].max()!, rightPeak = smooth[valley...last].max()!
        return smooth[valley] < valleyDepth * min(leftPeak, rightPeak) ? valley : nil
    }

    /// The column profile of only those slices in which the mask falls into two side-by-side parts (a gap of
    /// empty columns with mask on both sides, each part at least a fifth of the slice's columns). Legs joined at
    /// the pelvis are one 3D component, and the pelvis slices fill the valley of the whole-volume profile; the
    /// slices below it still show the gap. Zero when no slice is split.
    func separatedSlicesProfile(_ mask: Volume<UInt8>) -> [Double] {
        let (nx, ny, nz) = (mask.shape[0], mask.shape[1], mask.shape[2])
        var total = [Double](repeating: 0, count: nx)
        var counts = [Double](repeating: 0, count: nx)
        for k in 0..<nz {
            for i in 0..<nx { counts[i] = 0 }
            for j in 0..<ny { for i in 0..<nx where mask[i, j, k] != 0 { counts[i] += 1 } }
            guard let first = counts.firstIndex(where: { $0 > 0 }), let last = counts.lastIndex(where: { $0 > 0 }) else { continue }
            let width = last - first + 1
            // The longest run of empty columns strictly inside the occupied span.
            var best = (start: 0, length: 0), run = 0
            for i in first...last {
                if counts[i] == 0 { run += 1; if run > best.length { best = (i - run + 1, run) } } else { run = 0 }
            }
            guard best.length >= 2, best.start - first >= width / 5, last - (best.start + best.length - 1) >= width / 5 else { continue }
            for i in 0..<nx { total[i] += counts[i] }
        }
        return total
    }

    func singleLegSide(_ mask: Volume<UInt8>, profile: [Double]) -> Side {
        let total = profile.reduce(0, +)
        let ci = profile.enumerated().reduce(0.0) { $0 + Double($1.offset) * $1.element } / total
        // World x (RAS: + toward the subject's right) of the leg's centre column, mid volume.
        let world = mask.affine.apply([ci, Double(mask.shape[1]) / 2, Double(mask.shape[2]) / 2])
        return world[0] >= 0 ? .right : .left
    }
}
