import LegSegIO

/// How pseudo-labels are made from a teacher's segmentation of an unlabelled scan (`legseg train --unlabelled`).
public struct PseudoLabelOptions: Sendable {
    /// A voxel inside the body keeps its label only when the teacher's probability for it is at least this.
    public var confidence: Float = 0.8
    /// With two legs in view, a sided structure must be found on both legs, with voxel counts within this ratio.
    public var maximumSideRatio = 2.0
    public init() {}
}

/// Pseudo-labels of one scan on the canonical grid (standardized table), `LabelTables.unlabelled` where none is kept.
public struct PseudoLabels: Sendable {
    public var labels: Volume<UInt8>
    /// Fraction of the foreground (mask) voxels that kept a label, background included.
    public var labelledFraction: Double
    /// Sided structures dropped on both legs by the bilateral check, with the reason.
    public var rejected: [(label: Int, reason: String)]
}

/// Confident, anatomically consistent pseudo-labels from the pipeline's own segmentation (a teacher network).
///
/// Networks trained on phantoms place the muscles right but not their borders; the voxels they are sure of, and
/// that pass checks a person would make, are the real-image borders worth learning from. Three checks, each
/// marking voxels `unlabelled` (left out of the loss) rather than guessing:
/// 1. confidence: inside the body, a label below `confidence` is not kept (outside the body, 0 is certain);
/// 2. one body per muscle: voxels outside their label's largest 6-connected component on their leg (the same
///    clean-up `segment` applies) are fragments the teacher got wrong;
/// 3. bilateral symmetry: with both legs in view, a muscle found on one leg only, or with voxel counts differing
///    by more than `maximumSideRatio`, is not trusted on either leg.
/// Left/right and region consistency need no check here: the pipeline writes each leg's labels from its side of the
/// cut only and each network's labels in its own region's slices only.
public enum PseudoLabeller {
    public static func make(from segmentation: CanonicalSegmentation, options: PseudoLabelOptions = .init()) -> PseudoLabels {
        let teacher = segmentation.labels, mask = segmentation.mask.voxels
        var out = teacher
        let none = LabelTables.unlabelled
        // 1. Confidence.
        for n in out.voxels.indices where mask[n] != 0 && segmentation.confidence[n] < options.confidence { out.voxels[n] = none }
        // 2. Fragments.
        var cleaned = teacher
        Segmenter.keepLargestComponents(&cleaned, legs: segmentation.report.legs)
        for n in out.voxels.indices where cleaned.voxels[n] != teacher.voxels[n] { out.voxels[n] = none }
        // 3. Bilateral symmetry.
        var rejected: [(label: Int, reason: String)] = []
        let sides = Set(segmentation.report.legs.map(\.side))
        if sides.count == 2 {
            var counts = [Int](repeating: 0, count: 256)
            for v in out.voxels { counts[Int(v)] += 1 }
            var drop = [Bool](repeating: false, count: 256)
            for s in LabelTables.standardized where s.left != 0 {
                guard let right = s.right, s.left < 255, right < 255 else { continue }
                let l = counts[s.left], r = counts[right]
                if l == 0 && r == 0 { continue }
                let reason: String?
                if l == 0 || r == 0 {
                    reason = "found on the \(l == 0 ? "right" : "left") leg only"
                } else if Double(max(l, r)) > options.maximumSideRatio * Double(min(l, r)) {
                    reason = "left/right voxel counts \(l) and \(r) differ by more than \(options.maximumSideRatio)×"
                } else {
                    reason = nil
                }
                if let reason {
                    drop[s.left] = true; drop[right] = true
                    rejected.append((s.left, reason)); rejected.append((right, reason))
                }
            }
            for n in out.voxels.indices where drop[Int(out.voxels[n])] { out.voxels[n] = none }
        }
        var foreground = 0, kept = 0
        for n in mask.indices where mask[n] != 0 {
            foreground += 1
            if out.voxels[n] != none { kept += 1 }
        }
        return PseudoLabels(labels: out, labelledFraction: foreground == 0 ? 0 : Double(kept) / Double(foreground), rejected: rejected)
    }
}
