/// A 4x4 affine transform in double precision, stored row-major.
///
/// LegSeg uses it as the voxel-to-world map of a volume: `world = affine * [i, j, k, 1]`, where world coordinates
/// are NIfTI's RAS+ millimetres (+x toward the subject's right, +y anterior, +z superior).
public struct Affine: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Row-major entries: `m[4 * row + column]`.
    public var m: [Double]

    public init(rows: [[Double]]) {
        precondition(rows.count == 4 && rows.allSatisfy { $0.count == 4 }, "Affine needs 4 rows of 4")
        m = rows.flatMap { $0 }
    }

    /// The first three rows as NIfTI stores them in `srow_x`, `srow_y`, `srow_z`; the last row is 0 0 0 1.
    public init(srowX: [Double], srowY: [Double], srowZ: [Double]) {
        self.init(rows: [srowX, srowY, srowZ, [0, 0, 0, 1]])
    }

    public static let identity = Affine(rows: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])

    /// A diagonal scaling affine (the NIfTI "method 1" transform when neither qform nor sform is set).
    public static func scaling(_ s: [Double]) -> Affine {
        Affine(rows: [[s[0], 0, 0, 0], [0, s[1], 0, 0], [0, 0, s[2], 0], [0, 0, 0, 1]])
    }

    public subscript(row: Int, column: Int) -> Double {
        get { m[4 * row + column] }
        set { m[4 * row + column] = newValue }
    }

    public var rows: [[Double]] { (0..<4).map { r in Array(m[(4 * r)..<(4 * r + 4)]) } }

    /// Matrix product `self * other`.
    public static func * (a: Affine, b: Affine) -> Affine {
        var out = [Double](repeating: 0, count: 16)
        for r in 0..<4 {
            for c in 0..<4 {
                var s = 0.0
                for k in 0..<4 { s += a.m[4 * r + k] * b.m[4 * k + c] }
                out[4 * r + c] = s
            }
        }
        return Affine(flat: out)
    }

    init(flat: [Double]) { m = flat }

    /// Maps a voxel index (continuous) to world coordinates.
    public func apply(_ p: [Double]) -> [Double] {
        (0..<3).map { r in m[4 * r] * p[0] + m[4 * r + 1] * p[1] + m[4 * r + 2] * p[2] + m[4 * r + 3] }
    }

    /// The world direction (not normalised) of array axis `axis` (0, 1 or 2): column `axis` of the 3x3 part.
    public func column(_ axis: Int) -> [Double] { (0..<3).map { m[4 * $0 + axis] } }

    /// Length of each column of the 3x3 part: the voxel spacing in millimetres along each array axis.
    public var spacing: [Double] {
        (0..<3).map { a in column(a).reduce(0) { $0 + $1 * $1 }.squareRoot() }
    }

    /// Determinant of the 3x3 part; zero (or non-finite) means the affine cannot give an orientation.
    public var determinant3: Double {
        let a = self
        return a[0, 0] * (a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1])
            - a[0, 1] * (a[1, 0] * a[2, 2] - a[1, 2] * a[2, 0])
            + a[0, 2] * (a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0])
    }

    public var isFinite: Bool { m.allSatisfy { $0.isFinite } }

    /// True when the transform maps 3D space onto 3D space (finite, non-singular 3x3 part, last row 0 0 0 1).
    public var isUsable: Bool {
        isFinite && abs(determinant3) > 1e-12 && m[12] == 0 && m[13] == 0 && m[14] == 0 && m[15] == 1
    }

    /// Largest absolute entry-wise difference to another affine.
    public func maxAbsDifference(_ other: Affine) -> Double {
        zip(m, other.m).map { abs($0 - $1) }.max() ?? 0
    }

    public var description: String {
        rows.map { "[" + $0.map { String(format: "%.6g", $0) }.joined(separator: ", ") + "]" }.joined(separator: "\n")
    }
}

#if canImport(Foundation)
import Foundation
#endif
