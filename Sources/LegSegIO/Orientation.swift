/// Which way each array axis points in the subject, as a three-letter code such as `RAS` or `LPS`.
///
/// Letter n names the direction in which array axis n increases: R/L (subject's right/left, world ±x),
/// A/P (anterior/posterior, world ±y), S/I (superior/inferior, world ±z). This is the convention of
/// nibabel's `aff2axcodes`. All conversions between array order and anatomy happen in this file.
public struct Orientation: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// For each array axis: the world axis it follows most closely (0 = x, 1 = y, 2 = z).
    public let worldAxis: [Int]
    /// For each array axis: +1 when it increases toward +world (R, A, S), -1 toward L, P, I.
    public let sign: [Int]

    public init(worldAxis: [Int], sign: [Int]) {
        precondition(Set(worldAxis) == [0, 1, 2] && sign.allSatisfy { $0 == 1 || $0 == -1 }, "not an orientation")
        self.worldAxis = worldAxis
        self.sign = sign
    }

    /// LegSeg's canonical layout (the spec's `[z][y][x]` with x toward the subject's left, y posterior, z superior).
    public static let canonical = Orientation(code: "LPS")!
    public static let ras = Orientation(code: "RAS")!

    private static let letters: [[Character]] = [["L", "R"], ["P", "A"], ["I", "S"]]

    /// Parses a code such as "RAS" or "lps"; nil unless it names each world axis exactly once.
    public init?(code: String) {
        let chars = Array(code.uppercased())
        guard chars.count == 3 else { return nil }
        var axes: [Int] = [], signs: [Int] = []
        for c in chars {
            guard let w = Orientation.letters.firstIndex(where: { $0.contains(c) }) else { return nil }
            axes.append(w)
            signs.append(Orientation.letters[w][1] == c ? 1 : -1)
        }
        guard Set(axes).count == 3 else { return nil }
        self.init(worldAxis: axes, sign: signs)
    }

    /// The orientation of an affine's array axes. Each array axis is matched to a distinct world axis so that the
    /// summed alignment |cos| is largest (all six assignments are tried), which stays well defined for oblique
    /// affines where two columns lean toward the same world axis. Nil for a singular or non-finite affine.
    public init?(affine: Affine) {
        guard affine.isUsable else { return nil }
        let columns = (0..<3).map { affine.column($0) }
        let norms = columns.map { c in c.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        guard norms.allSatisfy({ $0 > 0 }) else { return nil }
        let permutations = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        var best = permutations[0], bestScore = -1.0
        for p in permutations {
            let score = (0..<3).reduce(0.0) { $0 + abs(columns[$1][p[$1]]) / norms[$1] }
            if score > bestScore + 1e-12 { best = p; bestScore = score }
        }
        self.init(worldAxis: best, sign: (0..<3).map { columns[$0][best[$0]] >= 0 ? 1 : -1 })
    }

    public var code: String {
        String((0..<3).map { Orientation.letters[worldAxis[$0]][sign[$0] > 0 ? 1 : 0] })
    }

    public var description: String { code }

    /// The array axis that runs along world axis `world` (0 = x, 1 = y, 2 = z), and its sign.
    public func arrayAxis(alongWorld world: Int) -> (axis: Int, sign: Int) {
        let a = worldAxis.firstIndex(of: world)!
        return (a, sign[a])
    }

    /// The array axis that increases toward the subject's left (world -x).
    public var towardLeft: (axis: Int, increasing: Bool) { let a = arrayAxis(alongWorld: 0); return (a.axis, a.sign < 0) }
    /// The array axis that increases toward anterior (world +y).
    public var towardAnterior: (axis: Int, increasing: Bool) { let a = arrayAxis(alongWorld: 1); return (a.axis, a.sign > 0) }
    /// The array axis that increases toward superior (world +z).
    public var towardSuperior: (axis: Int, increasing: Bool) { let a = arrayAxis(alongWorld: 2); return (a.axis, a.sign > 0) }
}

/// A rearrangement of array axes by permutation and flips only (no resampling), as produced by `Volume.reoriented`.
///
/// New axis n is old axis `permutation[n]`, reversed when `flips[n]`. It records the source shape and affine, so
/// `Volume.undoing(_:)` restores the original voxels and the original affine bit for bit.
public struct AxisTransform: Equatable, Sendable {
    public let permutation: [Int]
    public let flips: [Bool]
    public let sourceShape: [Int]
    public let sourceAffine: Affine

    public var isIdentity: Bool { permutation == [0, 1, 2] && !flips.contains(true) }

    /// Shape after the transform.
    public var resultShape: [Int] { permutation.map { sourceShape[$0] } }

    /// Index-to-index matrix: old index = `indexMap` * new index (homogeneous).
    var indexMap: Affine {
        var t = Affine(flat: [Double](repeating: 0, count: 16))
        t[3, 3] = 1
        for n in 0..<3 {
            let o = permutation[n]
            t[o, n] = flips[n] ? -1 : 1
            t[o, 3] = flips[n] ? Double(sourceShape[o] - 1) : 0
        }
        return t
    }
}

extension Volume {
    /// The orientation of the array axes, from the affine; nil when the affine is singular.
    public var orientation: Orientation? { Orientation(affine: affine) }

    /// The same image with its axes permuted and flipped so that it has orientation `target` (as closely as an
    /// oblique affine allows), and the record that undoes it. Voxel values are moved, never interpolated.
    public func reoriented(to target: Orientation = .canonical) -> (volume: Volume, transform: AxisTransform) {
        let current = orientation ?? .ras  // a singular affine has no orientation: keep array order
        var permutation = [0, 0, 0], flips = [false, false, false]
        for n in 0..<3 {
            let old = current.worldAxis.firstIndex(of: target.worldAxis[n])!
            permutation[n] = old
            flips[n] = current.sign[old] != target.sign[n]
        }
        let t = AxisTransform(permutation: permutation, flips: flips, sourceShape: shape, sourceAffine: affine)
        return (applying(t), t)
    }

    /// Shorthand for `reoriented(to: .canonical)`.
    public func canonicalised() -> (volume: Volume, transform: AxisTransform) { reoriented(to: .canonical) }

    /// Applies `t` (which must have been made for this volume's shape).
    public func applying(_ t: AxisTransform) -> Volume {
        precondition(t.sourceShape == shape, "axis transform made for shape \(t.sourceShape), applied to \(shape)")
        if t.isIdentity { return self }
        let newShape = t.resultShape
        // Strides, in the old array, of a step along each new axis; and the old index of new voxel (0, 0, 0).
        let oldStrides = [1, shape[0], shape[0] * shape[1]]
        var step = [0, 0, 0], start = 0
        for n in 0..<3 {
            let o = t.permutation[n]
            step[n] = t.flips[n] ? -oldStrides[o] : oldStrides[o]
            if t.flips[n] { start += (shape[o] - 1) * oldStrides[o] }
        }
        var out = [Voxel]()
        out.reserveCapacity(count)
        voxels.withUnsafeBufferPointer { src in
            for k in 0..<newShape[2] {
                for j in 0..<newShape[1] {
                    var p = start + j * step[1] + k * step[2]
                    for _ in 0..<newShape[0] { out.append(src[p]); p += step[0] }
                }
            }
        }
        return Volume(shape: newShape, voxels: out, affine: affine * t.indexMap)
    }

    /// Undoes `t`: this volume must be on `t`'s result grid; the result is on the original grid, with the
    /// original affine restored exactly.
    public func undoing(_ t: AxisTransform) -> Volume {
        precondition(shape == t.resultShape, "volume shape \(shape) is not the transform's result \(t.resultShape)")
        var inversePermutation = [0, 0, 0], inverseFlips = [false, false, false]
        for n in 0..<3 {
            inversePermutation[t.permutation[n]] = n
            inverseFlips[t.permutation[n]] = t.flips[n]
        }
        let inverse = AxisTransform(permutation: inversePermutation, flips: inverseFlips, sourceShape: shape, sourceAffine: affine)
        var restored = applying(inverse)
        restored.affine = t.sourceAffine
        return restored
    }
}
