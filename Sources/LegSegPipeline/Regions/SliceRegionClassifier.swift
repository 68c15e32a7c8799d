import Foundation
import LegSegEngine
import LegSegIO

/// Runs the slice classification network (spec §1.3, §2.2) on every axial slice of a canonical, masked volume and
/// returns body-region probabilities per slice.
public struct SliceRegionClassifier {
    public let network: SliceClassifier
    /// Name of the head that gives the body position.
    public var positionHead = "position"

    public init(network: SliceClassifier) { self.network = network }

    /// `probabilities[s][BodyRegion.rawValue]` for each canonical slice s (inferior first). Classes of the position
    /// head are matched to regions by name (lower/lowerleg → lower leg, upper/thigh → thigh, hip/torso/... → hip).
    public func regionProbabilities(_ volume: Volume<Float>) throws -> [[Double]] {
        let size = network.configuration.imageSize
        let images = (0..<volume.shape[2]).flatMap { SliceRegionClassifier.sliceImage(volume, slice: $0, size: size) }
        let input = try HostTensor(shape: [volume.shape[2], 1, size[0], size[1]], data: images)
        let outputs = try network.predict(input)
        guard let head = network.configuration.heads.first(where: { $0.name == positionHead }),
              let probabilities = outputs.first(where: { $0.head == positionHead })?.probabilities else {
            throw EngineError.shape("the slice classifier has no \"\(positionHead)\" head")
        }
        let regionOfClass = head.classes.map(SliceRegionClassifier.region(named:))
        let k = head.classes.count
        return (0..<volume.shape[2]).map { s in
            var row = [Double](repeating: 0, count: BodyRegion.allCases.count)
            for c in 0..<k { row[regionOfClass[c].rawValue] += Double(probabilities.data[s * k + c]) }
            return row
        }
    }

    static func region(named name: String) -> BodyRegion {
        switch name.lowercased().replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "_", with: "") {
        case "ankle", "foot": .ankle
        case "lower", "lowerleg", "calf": .lowerLeg
        case "knee": .knee
        case "upper", "upperleg", "thigh": .thigh
        default: .hip
        }
    }

    /// The classifier image of one canonical slice (spec §1.3): crop to the non-zero pixels plus 5, min-max
    /// rescale to [0, 1], bilinear resize to `size` (rows = anterior → posterior, columns = subject's right →
    /// left); all zeros when the slice is (nearly) empty.
    public static func sliceImage(_ v: Volume<Float>, slice k: Int, size: [Int]) -> [Float] {
        let (nx, ny) = (v.shape[0], v.shape[1])
        var lo = [nx, ny], hi = [-1, -1], sum: Float = 0
        for j in 0..<ny { for i in 0..<nx where v[i, j, k] != 0 {
            sum += v[i, j, k]
            lo = [min(lo[0], i), min(lo[1], j)]; hi = [max(hi[0], i), max(hi[1], j)]
        } }
        guard hi[0] >= 0, sum >= 10 else {  // spec: a slice whose intensities sum to < 10 is blank
            return [Float](repeating: 0, count: size[0] * size[1])
        }
        lo = [max(0, lo[0] - 5), max(0, lo[1] - 5)]; hi = [min(nx - 1, hi[0] + 5), min(ny - 1, hi[1] + 5)]
        var minimum = Float.infinity, maximum = -Float.infinity
        for j in lo[1]...hi[1] { for i in lo[0]...hi[0] { minimum = min(minimum, v[i, j, k]); maximum = max(maximum, v[i, j, k]) } }
        let range = max(maximum - minimum, 1e-12)
        let (h, w) = (size[0], size[1])
        var out = [Float](repeating: 0, count: h * w)
        let cw = Double(hi[0] - lo[0] + 1), ch = Double(hi[1] - lo[1] + 1)
        for r in 0..<h { for c in 0..<w {
            // Pixel centres mapped into the crop (align-corners = false), bilinear.
            let x = min(max((Double(c) + 0.5) * cw / Double(w) - 0.5, 0), cw - 1) + Double(lo[0])
            let y = min(max((Double(r) + 0.5) * ch / Double(h) - 0.5, 0), ch - 1) + Double(lo[1])
            let x0 = Int(x), y0 = Int(y), x1 = min(x0 + 1, hi[0]), y1 = min(y0 + 1, hi[1])
            let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
            let top = v[x0, y0, k] * (1 - fx) + v[x1, y0, k] * fx
            let bottom = v[x0, y1, k] * (1 - fx) + v[x1, y1, k] * fx
            out[r * w + c] = ((top * (1 - fy) + bottom * fy) - minimum) / range
        } }
        return out
    }
}
