import LegSegIO

/// Picks training patch origins in a labelled volume, deterministically for a seed.
///
/// With probability `foregroundFraction` a patch is centred on a voxel of a randomly chosen class present in the
/// volume (every class equally likely: class-balanced, so small muscles are seen as often as large ones; class
/// locations are indexed once, as nnU-Net does); otherwise the origin is uniform. Origins may reach past the
/// borders when the patch is larger than the volume; the extractor pads with zeros.
public struct PatchSampler: Sendable {
    public let patchSize: [Int]
    public let shape: [Int]
    public var foregroundFraction: Double
    /// Voxel indices of each label present (0 and `LabelTables.unlabelled` excluded).
    public let locations: [Int: [Int]]

    public init(labels: Volume<UInt8>, patchSize: [Int], foregroundFraction: Double = 0.67) {
        self.patchSize = patchSize
        shape = labels.shape
        self.foregroundFraction = foregroundFraction
        var locations: [Int: [Int]] = [:]
        for (n, l) in labels.voxels.enumerated() where l != 0 && l != LabelTables.unlabelled { locations[Int(l), default: []].append(n) }
        self.locations = locations
    }

    public func origin(using g: inout SeededGenerator) -> [Int] {
        let classes = locations.keys.sorted()
        if !classes.isEmpty, g.uniform(0...1) < foregroundFraction {
            let label = classes[Int(g.next() % UInt64(classes.count))]
            let voxels = locations[label]!
            let v = voxels[Int(g.next() % UInt64(voxels.count))]
            let centre = [v % shape[0], (v / shape[0]) % shape[1], v / (shape[0] * shape[1])]
            // Centre the patch on the voxel, then keep it inside the volume where it fits.
            return (0..<3).map { a in clampOrigin(centre[a] - patchSize[a] / 2, axis: a) }
        }
        return (0..<3).map { a in
            let span = shape[a] - patchSize[a]
            return span > 0 ? Int(g.next() % UInt64(span + 1)) : span / 2
        }
    }

    func clampOrigin(_ o: Int, axis a: Int) -> Int {
        let span = shape[a] - patchSize[a]
        return span >= 0 ? min(max(o, 0), span) : span / 2
    }
}
