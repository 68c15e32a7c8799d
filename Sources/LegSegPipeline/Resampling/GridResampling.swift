import Foundation
import LegSegIO

/// Resampling between a volume's grid and a network's grid (spec §1.9 `SegmentationResolution`, made the
/// default: each network runs at the voxel size it was trained at, whatever the scan's).
///
/// Both grids cover the same box in world space: voxel `i'` of the new grid has its centre at old-grid
/// coordinate `(i' + 0.5)·f − 0.5` with `f = n/n'` per axis (align-corners = false, as PyTorch's
/// `interpolate(..., align_corners=False)`), and the affine is adjusted to match, so every voxel keeps its world
/// position. The same mapping runs both ways: images down to the network grid, class probabilities back up.
public enum GridResampling {
    /// The shape with voxels of `target` mm (per array axis) covering the same extent as `shape` at `spacing`.
    public static func shape(_ shape: [Int], spacing: [Double], target: [Double]) -> [Int] {
        (0..<3).map { max(1, Int((Double(shape[$0]) * spacing[$0] / target[$0]).rounded())) }
    }

    /// True when resampling from `spacing` to `target` would change the grid by more than 2 %.
    public static func isNeeded(spacing: [Double], target: [Double]) -> Bool {
        (0..<3).contains { abs(spacing[$0] / target[$0] - 1) > 0.02 }
    }

    /// The affine of the grid of `newShape` over the same extent as (`affine`, `shape`).
    public static func affine(_ affine: Affine, from shape: [Int], to newShape: [Int]) -> Affine {
        let f = (0..<3).map { Double(shape[$0]) / Double(newShape[$0]) }
        // new voxel index i' → old index f·i' + (f − 1)/2
        let map = Affine(rows: [[f[0], 0, 0, (f[0] - 1) / 2], [0, f[1], 0, (f[1] - 1) / 2],
                                [0, 0, f[2], (f[2] - 1) / 2], [0, 0, 0, 1]])
        return affine * map
    }

    /// Trilinear resampling of `channels` stacked volumes (`values[c · voxels + v]`, `i` fastest) from `shape`
    /// to `newShape`; coordinates outside the old grid are clamped to its edge voxels.
    public static func linear(_ values: [Float], channels: Int, from shape: [Int], to newShape: [Int]) -> [Float] {
        let n = shape.reduce(1, *), m = newShape.reduce(1, *)
        precondition(values.count == n * channels, "values do not match the shape")
        let axes = (0..<3).map { a in taps(from: shape[a], to: newShape[a]) }
        var out = [Float](repeating: 0, count: m * channels)
        let (nx, nxy) = (shape[0], shape[0] * shape[1])
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    let s = src.baseAddress! + c * n, d = dst.baseAddress! + c * m
                    var o = 0
                    for k in 0..<newShape[2] {
                        let (k0, k1, wk) = axes[2][k]
                        for j in 0..<newShape[1] {
                            let (j0, j1, wj) = axes[1][j]
                            let r00 = j0 * nx + k0 * nxy, r10 = j1 * nx + k0 * nxy
                            let r01 = j0 * nx + k1 * nxy, r11 = j1 * nx + k1 * nxy
                            for i in 0..<newShape[0] {
                                let (i0, i1, wi) = axes[0][i]
                                func row(_ r: Int) -> Float { s[r + i0] + wi * (s[r + i1] - s[r + i0]) }
                                let a = row(r00) + wj * (row(r10) - row(r00))
                                let b = row(r01) + wj * (row(r11) - row(r01))
                                d[o] = a + wk * (b - a)
                                o += 1
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Nearest-neighbour resampling (label maps) with the same voxel-centre mapping.
    public static func nearest<T>(_ values: [T], from shape: [Int], to newShape: [Int]) -> [T] {
        let index: [[Int]] = (0..<3).map { a in
            let f = Double(shape[a]) / Double(newShape[a])
            return (0..<newShape[a]).map { i -> Int in
                let x = ((Double(i) + 0.5) * f - 0.5).rounded()
                return min(shape[a] - 1, max(0, Int(x)))
            }
        }
        var out: [T] = []
        out.reserveCapacity(newShape.reduce(1, *))
        for k in index[2] { for j in index[1] { for i in index[0] { out.append(values[i + shape[0] * (j + shape[1] * k)]) } } }
        return out
    }

    /// A volume on the grid of `target` mm voxels (linear for images), its affine adjusted.
    public static func resampled(_ v: Volume<Float>, toSpacing target: [Double]) -> Volume<Float> {
        let newShape = shape(v.shape, spacing: v.spacing, target: target)
        return Volume(shape: newShape, voxels: linear(v.voxels, channels: 1, from: v.shape, to: newShape),
                      affine: affine(v.affine, from: v.shape, to: newShape))
    }

    /// A label map on the grid of `target` mm voxels (nearest neighbour), its affine adjusted.
    public static func resampledLabels<T: Sendable>(_ v: Volume<T>, toSpacing target: [Double]) -> Volume<T> {
        let newShape = shape(v.shape, spacing: v.spacing, target: target)
        return Volume(shape: newShape, voxels: nearest(v.voxels, from: v.shape, to: newShape),
                      affine: affine(v.affine, from: v.shape, to: newShape))
    }

    /// Per new index: the two old indices and the weight of the second.
    static func taps(from n: Int, to m: Int) -> [(Int, Int, Float)] {
        (0..<m).map { i in
            let x = min(max((Double(i) + 0.5) * Double(n) / Double(m) - 0.5, 0), Double(n - 1))
            let i0 = Int(x), i1 = min(i0 + 1, n - 1)
            return (i0, i1, Float(x - Double(i0)))
        }
    }
}
