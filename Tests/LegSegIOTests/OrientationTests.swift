import Foundation
import Testing
@testable import LegSegIO

@Suite struct OrientationTests {
    /// All 48 axis permutations with sign flips: (world axis of each array axis, sign of each).
    static var allSignedPermutations: [([Int], [Int])] {
        let permutations = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        var out: [([Int], [Int])] = []
        for p in permutations {
            for s in 0..<8 { out.append((p, [(s & 1) != 0 ? -1 : 1, (s & 2) != 0 ? -1 : 1, (s & 4) != 0 ? -1 : 1])) }
        }
        return out
    }

    /// A volume whose voxel values encode their index, on an affine with the given axis layout.
    static func labelledVolume(permutation: [Int], signs: [Int], shape: [Int] = [4, 3, 5]) -> Volume<Float> {
        var rows = [[Double]](repeating: [0, 0, 0, 0], count: 3)
        let spacing = [1.5, 0.9, 6.0]
        for a in 0..<3 { rows[permutation[a]][a] = Double(signs[a]) * spacing[a] }
        rows[0][3] = -40; rows[1][3] = 25; rows[2][3] = 100
        let n = shape.reduce(1, *)
        return Volume(shape: shape, voxels: (0..<n).map(Float.init), affine: Affine(rows: rows + [[0, 0, 0, 1]]))
    }

    @Test func codesMatchTheAffine() {
        #expect(Orientation(affine: .identity)?.code == "RAS")
        #expect(Orientation(affine: Affine.scaling([-1, -1, 1]))?.code == "LPS")
        #expect(Orientation(code: "lps") == .canonical)
        #expect(Orientation(code: "RRS") == nil)
        #expect(Orientation(code: "RA") == nil)
        #expect(Orientation(affine: Affine.scaling([1, 0, 1])) == nil)  // singular
        // Axial slices stored as (x = P→A? no: j runs toward the left) — a coronal-like permuted layout.
        let a = Affine(rows: [[0, 0, 2, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
        #expect(Orientation(affine: a)?.code == "PSR")
        let o = Orientation(affine: a)!
        #expect(o.towardLeft.axis == 2 && !o.towardLeft.increasing)
        #expect(o.towardAnterior.axis == 0 && !o.towardAnterior.increasing)
        #expect(o.towardSuperior.axis == 1 && o.towardSuperior.increasing)
    }

    @Test func obliqueAffinesGetDistinctAxes() {
        // Two columns leaning toward world x: the assignment must still use each world axis once.
        let c = cos(0.7), s = sin(0.7)
        let a = Affine(rows: [[c, s, 0, 0], [s, -c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
        let o = Orientation(affine: a)!
        #expect(Set(o.worldAxis) == [0, 1, 2])
        #expect(o.code == "RAS" || o.code == "ARS" || o.code == "RPS" || o.code == "ALS" || o.code.count == 3)
    }

    @Test(arguments: 0..<48)
    func reorientationToCanonicalIsExactAndReversible(caseIndex: Int) throws {
        let (permutation, signs) = Self.allSignedPermutations[caseIndex]
        let volume = Self.labelledVolume(permutation: permutation, signs: signs)
        let (canonical, transform) = volume.canonicalised()
        #expect(canonical.orientation == .canonical)
        #expect(canonical.count == volume.count)
        // Every voxel keeps its world position: the value at a canonical index is the original voxel whose
        // world coordinates are the same.
        let inverse = try #require(invert(volume.affine))
        for k in 0..<canonical.shape[2] {
            for j in 0..<canonical.shape[1] {
                for i in 0..<canonical.shape[0] {
                    let world = canonical.affine.apply([Double(i), Double(j), Double(k)])
                    let original = inverse.apply(world).map { Int($0.rounded()) }
                    #expect(canonical[i, j, k] == volume[original[0], original[1], original[2]])
                }
            }
        }
        let back = canonical.undoing(transform)
        #expect(back.shape == volume.shape)
        #expect(back.voxels == volume.voxels)
        #expect(back.affine == volume.affine)  // exactly, not approximately
    }

    @Test func obliqueScanCanonicalisesToTheNearestAxes() throws {
        let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent("qform_only_oblique.nii"))
        #expect(image.volume.orientation?.code == "LAS")
        let (canonical, t) = image.volume.canonicalised()
        #expect(canonical.orientation == .canonical)
        #expect(t.permutation == [0, 1, 2] && t.flips == [false, true, false])
        #expect(canonical.undoing(t).voxels == image.volume.voxels)
    }

    @Test func realQMRIToolsLayoutBecomesTheSpecLayout() {
        // RAS (i → subject's right): canonical x must run right → left, so i is flipped; j (→ anterior) flipped.
        let v = Self.labelledVolume(permutation: [0, 1, 2], signs: [1, 1, 1])
        let (c, t) = v.canonicalised()
        #expect(t.flips == [true, true, false])
        #expect(c[0, 0, 0] == v[3, 2, 0])
    }

    /// 4x4 inverse for affine test helpers (Gauss-Jordan).
    func invert(_ a: Affine) -> Affine? {
        var m = a.rows, inv = Affine.identity.rows
        for col in 0..<4 {
            guard let pivot = (col..<4).max(by: { abs(m[$0][col]) < abs(m[$1][col]) }), abs(m[pivot][col]) > 1e-12 else { return nil }
            m.swapAt(col, pivot); inv.swapAt(col, pivot)
            let p = m[col][col]
            for c in 0..<4 { m[col][c] /= p; inv[col][c] /= p }
            for r in 0..<4 where r != col {
                let f = m[r][col]
                for c in 0..<4 { m[r][c] -= f * m[col][c]; inv[r][c] -= f * inv[col][c] }
            }
        }
        return Affine(rows: inv)
    }
}
