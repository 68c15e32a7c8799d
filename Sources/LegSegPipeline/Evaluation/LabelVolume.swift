import LegSegIO

/// Label maps as integer volumes. NIfTI voxels arrive as float32, so a label map read from a file is converted
/// here once, refusing values that are not labels (a probability map given by mistake, say).
public enum LabelVolume {
    /// The largest label accepted. Per-label tables are indexed by label, so this bounds their memory; it is far
    /// above any muscle atlas (and inside what float32 voxels hold exactly).
    public static let maximumLabel = 65_535

    /// `volume`'s voxels as integer labels. Throws when a voxel is negative, not an integer (beyond 1e-3, to
    /// tolerate scl_slope rounding) or above `maximumLabel`; `file` names the volume in the error.
    public static func labels(from volume: Volume<Float>, file: String) throws -> Volume<Int32> {
        var out = [Int32](repeating: 0, count: volume.count)
        var bad: (index: Int, value: Float)?
        volume.voxels.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                for n in 0..<v.count {
                    let x = v[n], r = x.rounded()
                    if abs(x - r) > 1e-3 || r < 0 || r > Float(maximumLabel) { bad = (n, x); return }
                    o[n] = Int32(r)
                }
            }
        }
        if let bad {
            let ni = volume.shape[0], nj = volume.shape[1]
            let (i, j, k) = (bad.index % ni, (bad.index / ni) % nj, bad.index / (ni * nj))
            throw LabelVolumeError(file: file, message: "not a label map: voxel (\(i), \(j), \(k)) holds \(bad.value); labels are integers from 0 to \(maximumLabel)")
        }
        return Volume(shape: volume.shape, voxels: out, affine: volume.affine)
    }

    /// An integer volume (uint8/int16 label maps built in code, say) as `Int32` labels; throws on a negative
    /// label or one above `maximumLabel`.
    public static func labels<I: BinaryInteger & Sendable>(from volume: Volume<I>, file: String) throws -> Volume<Int32> {
        if let bad = volume.voxels.firstIndex(where: { $0 < 0 || $0 > maximumLabel }) {
            throw LabelVolumeError(file: file, message: "not a label map: voxel \(bad) holds \(volume.voxels[bad]); labels are integers from 0 to \(maximumLabel)")
        }
        return volume.map { Int32($0) }
    }

    /// Throws unless `other` lies on `volume`'s grid (same shape, affines equal within `tolerance` mm). The error
    /// names `otherFile` and says what differs from `file`.
    public static func checkSameGrid<A, B>(_ volume: Volume<A>, file: String, _ other: Volume<B>, otherFile: String,
                                           tolerance: Double = 1e-4) throws {
        if volume.shape != other.shape {
            throw LabelVolumeError(file: otherFile, message: "shape \(format(other.shape)) differs from \(file)'s \(format(volume.shape)); the volumes must be on the same voxel grid")
        }
        let difference = volume.affine.maxAbsDifference(other.affine)
        if !(difference <= tolerance) {
            throw LabelVolumeError(file: otherFile, message: "affine differs from \(file)'s by up to \(String(format: "%.4g", difference)) mm; the volumes must be on the same voxel grid")
        }
    }

    /// Throws when `volume` holds a label below 0 or above `maximumLabel` (possible only in volumes built in
    /// code; conversions from files check already).
    public static func checkLabels(_ volume: Volume<Int32>, file: String) throws {
        if let low = volume.voxels.min(), low < 0 {
            throw LabelVolumeError(file: file, message: "not a label map: it holds the negative label \(low)")
        }
        if let high = volume.voxels.max(), high > maximumLabel {
            throw LabelVolumeError(file: file, message: "label \(high) is above the largest supported label \(maximumLabel)")
        }
    }

    static func format(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "x") }
}

/// A volume that cannot be used as a label map, or two volumes that do not line up.
public struct LabelVolumeError: LegSegError {
    public let file: String?
    public let message: String
    public init(file: String?, message: String) { self.file = file; self.message = message }
    public var description: String { "\(file ?? "?"): \(message)" }
}
