import Foundation
import LegSegIO

/// An RGB colour.
public struct RGB: Equatable, Hashable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
}

/// How a QC montage looks.
public struct QCMontageOptions: Sendable {
    /// Axial slices shown, evenly spaced through the labelled range (the whole volume when nothing is labelled).
    public var slices = 12
    /// Tiles per row of the grid.
    public var columns = 4
    /// Weight of the label colour over the grey image, 0...1.
    public var opacity = 0.4
    /// Draw each label's in-plane boundary in its full colour.
    public var outlines = true
    /// Colour per label; labels not listed get `QCMontage.fallbackColor(for:)`.
    public var colors: [Int: RGB] = [:]
    /// Black pixels between and around tiles.
    public var gap = 2
    /// Crop every tile to the body (and labels) in the plane, dropping the air around the legs.
    public var cropToBody = true

    public init() {}

    /// Options with label colours given as (red, green, blue) tuples.
    public init(colors: [Int: (UInt8, UInt8, UInt8)]) {
        self.colors = colors.mapValues { RGB($0.0, $0.1, $0.2) }
    }
}

/// A PNG montage of axial slices with coloured label overlays, for checking a segmentation at a glance.
///
/// Slices are shown in radiological convention from the affine, whatever the array order: the volume is
/// canonicalised to LPS first, so in every tile the subject's right is on the image's left and anterior is at
/// the top; tiles run inferior to superior, left to right then top to bottom. Pixels are square: a tile is
/// resampled (nearest neighbour) when the in-plane spacing differs between the two axes. By default tiles are
/// cropped to the body and labels in the plane (the same crop for every tile).
public enum QCMontage {
    public static func render(image: Volume<Float>, labels: Volume<Int32>? = nil, options: QCMontageOptions = QCMontageOptions(),
                              imageFile: String = "image", labelsFile: String = "labels") throws -> PNGImage {
        if let labels {
            try LabelVolume.checkSameGrid(image, file: imageFile, labels, otherFile: labelsFile)
        }
        guard image.count > 0 else { throw LabelVolumeError(file: imageFile, message: "the image holds no voxels") }
        let (canonicalImage, transform) = image.canonicalised()
        let canonicalLabels = labels?.applying(transform)
        let shape = canonicalImage.shape
        let window = intensityWindow(canonicalImage.voxels)

        let slices = sliceIndices(labels: canonicalLabels, depth: shape[2], count: max(1, options.slices))
        // Square display pixels of the finer in-plane spacing.
        let spacing = canonicalImage.spacing
        let pixel = min(spacing[0], spacing[1])
        let region = options.cropToBody ? inPlaneRegion(canonicalImage, labels: canonicalLabels, above: window.foreground)
                                        : (i: 0..<shape[0], j: 0..<shape[1])
        let tileWidth = max(1, Int((Double(region.i.count) * spacing[0] / pixel).rounded()))
        let tileHeight = max(1, Int((Double(region.j.count) * spacing[1] / pixel).rounded()))
        let sourceI = (0..<tileWidth).map { region.i.lowerBound + min(region.i.count - 1, Int((Double($0) + 0.5) * Double(region.i.count) / Double(tileWidth))) }
        let sourceJ = (0..<tileHeight).map { region.j.lowerBound + min(region.j.count - 1, Int((Double($0) + 0.5) * Double(region.j.count) / Double(tileHeight))) }

        let columns = max(1, min(options.columns, slices.count))
        let rows = (slices.count + columns - 1) / columns
        let gap = max(0, options.gap)
        let width = columns * tileWidth + (columns + 1) * gap
        let height = rows * tileHeight + (rows + 1) * gap
        var out = PNGImage(width: width, height: height, colorType: .rgb)
        let opacity = min(1, max(0, options.opacity))
        let span = window.upper - window.lower

        for (t, k) in slices.enumerated() {
            let x0 = gap + (t % columns) * (tileWidth + gap)
            let y0 = gap + (t / columns) * (tileHeight + gap)
            func label(_ x: Int, _ y: Int) -> Int32 {
                guard let canonicalLabels, x >= 0, y >= 0, x < tileWidth, y < tileHeight else { return 0 }
                return canonicalLabels[sourceI[x], sourceJ[y], k]
            }
            for y in 0..<tileHeight {
                for x in 0..<tileWidth {
                    let value = Double(canonicalImage[sourceI[x], sourceJ[y], k])
                    let grey = 255 * min(1, max(0, (value - window.lower) / span))
                    var rgb = (grey, grey, grey)
                    let l = label(x, y)
                    if l > 0 {
                        let c = options.colors[Int(l)] ?? fallbackColor(for: Int(l))
                        let onEdge = options.outlines && (label(x - 1, y) != l || label(x + 1, y) != l || label(x, y - 1) != l || label(x, y + 1) != l)
                        let a = onEdge ? 1 : opacity
                        rgb = ((1 - a) * grey + a * Double(c.r), (1 - a) * grey + a * Double(c.g), (1 - a) * grey + a * Double(c.b))
                    }
                    let p = 3 * ((y0 + y) * width + x0 + x)
                    out.pixels[p] = UInt8(rgb.0.rounded())
                    out.pixels[p + 1] = UInt8(rgb.1.rounded())
                    out.pixels[p + 2] = UInt8(rgb.2.rounded())
                }
            }
        }
        return out
    }

    /// The in-plane (i, j) ranges holding the body and every label, plus a small margin. A row or column of
    /// voxels belongs to the body when at least 1% as many of its voxels (over all slices) are above `threshold`
    /// as in the fullest one, so scattered bright noise in the air does not widen the crop.
    static func inPlaneRegion(_ image: Volume<Float>, labels: Volume<Int32>?, above threshold: Double) -> (i: Range<Int>, j: Range<Int>) {
        let (ni, nj, nk) = (image.shape[0], image.shape[1], image.shape[2])
        var columns = [Int](repeating: 0, count: ni), rows = [Int](repeating: 0, count: nj)
        image.voxels.withUnsafeBufferPointer { v in
            var n = 0
            for _ in 0..<nk {
                for j in 0..<nj {
                    for i in 0..<ni {
                        if Double(v[n]) > threshold { columns[i] += 1; rows[j] += 1 }
                        n += 1
                    }
                }
            }
        }
        func range(_ counts: [Int], _ labelled: Range<Int>?) -> Range<Int> {
            let least = max(1, (counts.max() ?? 0) / 100)
            guard let first = counts.firstIndex(where: { $0 >= least }), let last = counts.lastIndex(where: { $0 >= least }) else {
                return labelled ?? 0..<counts.count
            }
            var lower = first, upper = last + 1
            if let labelled { lower = min(lower, labelled.lowerBound); upper = max(upper, labelled.upperBound) }
            let margin = max(2, (upper - lower) / 20)
            return max(0, lower - margin)..<min(counts.count, upper + margin)
        }
        let box = labels?.boundingBox(where: { $0 > 0 })
        return (range(columns, box.map { $0.lower[0]..<$0.upper[0] }), range(rows, box.map { $0.lower[1]..<$0.upper[1] }))
    }

    /// Renders and writes the montage to `url` as a PNG, atomically.
    public static func write(image: Volume<Float>, labels: Volume<Int32>? = nil, options: QCMontageOptions = QCMontageOptions(),
                             to url: URL, imageFile: String = "image", labelsFile: String = "labels") throws {
        try PNGWriter.write(try render(image: image, labels: labels, options: options, imageFile: imageFile, labelsFile: labelsFile), to: url)
    }

    /// `count` slice indices along canonical k (inferior to superior), the centres of equal parts of the
    /// labelled range [first, last labelled slice]; the whole depth when there are no labels.
    public static func sliceIndices(labels: Volume<Int32>?, depth: Int, count: Int) -> [Int] {
        var lower = 0, upper = depth  // upper exclusive
        if let labels, let box = labels.boundingBox(where: { $0 > 0 }) {
            lower = box.lower[2]; upper = box.upper[2]
        }
        let n = min(count, upper - lower)
        return (0..<n).map { t in lower + Int((Double(t) + 0.5) * Double(upper - lower) / Double(n)) }
    }

    /// The 1st and 99th percentiles of the foreground: voxels brighter than the volume's mean (returned as
    /// `foreground`), a crude body mask that drops the dark air around the legs which would otherwise pull the
    /// window down. At most about a
    /// million voxels are sampled (evenly strided) so large volumes stay quick.
    public static func intensityWindow(_ voxels: [Float]) -> (lower: Double, upper: Double, foreground: Double) {
        let mean = voxels.reduce(0.0) { $0 + Double($1) } / Double(max(1, voxels.count))
        let stride = max(1, voxels.count / 1_000_000)
        var sample: [Float] = []
        var n = 0
        while n < voxels.count {
            if Double(voxels[n]) > mean { sample.append(voxels[n]) }
            n += stride
        }
        if sample.isEmpty { sample = Swift.stride(from: 0, to: voxels.count, by: stride).map { voxels[$0] } }
        sample.sort()
        func percentile(_ q: Double) -> Double {
            let position = Double(sample.count - 1) * q / 100
            let lo = Int(position), hi = min(lo + 1, sample.count - 1)
            return Double(sample[lo]) + (Double(sample[hi]) - Double(sample[lo])) * (position - Double(lo))
        }
        let lower = percentile(1), upper = percentile(99)
        return (lower, upper > lower ? upper : lower + 1, mean)
    }

    /// A colour for `label` that is the same on every run: hues step by the golden angle, so neighbouring label
    /// numbers (often neighbouring muscles) get clearly different colours.
    public static func fallbackColor(for label: Int) -> RGB {
        let hue = (Double(label) * 0.618_033_988_749_895).truncatingRemainder(dividingBy: 1)
        let saturation = 0.85, value = 1.0
        let h = hue * 6, sector = Int(h) % 6, f = h - Double(Int(h))
        let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
        let (r, g, b): (Double, Double, Double)
        switch sector {
        case 0: (r, g, b) = (value, t, p)
        case 1: (r, g, b) = (q, value, p)
        case 2: (r, g, b) = (p, value, t)
        case 3: (r, g, b) = (p, q, value)
        case 4: (r, g, b) = (t, p, value)
        default: (r, g, b) = (value, p, q)
        }
        return RGB(UInt8((255 * r).rounded()), UInt8((255 * g).rounded()), UInt8((255 * b).rounded()))
    }
}
