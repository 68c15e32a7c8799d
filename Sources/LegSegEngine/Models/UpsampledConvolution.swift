/// Nearest-neighbour up-sampling by 2 followed by a 3-tap "same" convolution, computed on the coarse grid one
/// output phase at a time (a polyphase rewrite). Per axis, with taps `w0 w1 w2` and up-sampled input
/// `u[j] = x[⌊j/2⌋]`:
///
///     y[2m]   = w0·x[m−1] + (w1+w2)·x[m]        a 2-tap convolution padded 1 before, 0 after
///     y[2m+1] = (w0+w1)·x[m] + w2·x[m+1]        a 2-tap convolution padded 0 before, 1 after
///
/// An axis that is not up-sampled keeps its 3 taps. With factors (1,2,2) the decoder's up-convolution becomes 4
/// convolutions of 3×2×2 taps, with (2,2,2) 8 of 2×2×2: 12 or 8 multiply-adds per output voxel and channel pair
/// instead of 27, and the up-sampled tensor is never made. The phases are ordinary convolutions, so they run on the
/// backend's fastest kernels, and `Backend.interleave` writes them into the fine grid. Results equal the two-step
/// form up to float rounding. Model files keep the 3×3×3 convolution (`decoder.N.up.weight`).
public enum UpsampledConvolution {
    /// One output phase: its offset inside each block of `factors` and its convolution on the coarse grid.
    public struct Phase: Sendable {
        public var offset: [Int]
        public var geometry: ConvolutionGeometry
    }

    /// True when the rewrite applies: nearest up-sampling, factors 1 or 2, a 3-tap same convolution.
    public static func applies(factors: [Int], mode: UpsamplingMode, kernel: [Int]) -> Bool {
        mode == .nearest && factors.count == kernel.count && factors.allSatisfy { $0 == 1 || $0 == 2 }
            && kernel.allSatisfy { $0 == 3 }
    }

    /// The phases in `Backend.interleave`'s order (row-major over the offsets, last axis fastest).
    public static func phases(factors: [Int]) -> [Phase] {
        var offsets: [[Int]] = [[]]
        for f in factors { offsets = offsets.flatMap { o in (0..<f).map { o + [$0] } } }
        return offsets.map { offset in
            let axes = zip(factors, offset)
            return Phase(offset: offset, geometry: ConvolutionGeometry(
                kernel: axes.map { f, _ in f == 2 ? 2 : 3 },
                padding: axes.map { f, o in f == 2 ? 1 - o : 1 },
                paddingEnd: axes.map { f, o in f == 2 ? o : 1 }))
        }
    }

    /// The phase's convolution weight `[O, I, k...]` from the convolution weight `[O, I, 3...]`.
    public static func phaseWeight(_ w: HostTensor, phase: Phase, factors: [Int]) -> HostTensor {
        var t = w
        for (axis, f) in factors.enumerated() where f == 2 {
            t = mapAxis(t, axis: 2 + axis, tapMap(phase.offset[axis]))
        }
        return t
    }

    /// Every phase's convolution geometry and weight, in `phases(factors:)` order.
    public static func phaseWeights(_ w: HostTensor, factors: [Int]) -> [(geometry: ConvolutionGeometry, weight: HostTensor)] {
        phases(factors: factors).map { ($0.geometry, phaseWeight(w, phase: $0, factors: factors)) }
    }

    /// The adjoint of `phaseWeight` summed over the phases: the gradient of the convolution weight `[O, I, 3...]`
    /// from the gradients of the phase weights (training runs the rewrite but stores the 3×3×3 weight).
    public static func weightGradient(phaseGradients: [HostTensor], factors: [Int]) -> HostTensor {
        var total: HostTensor?
        for (phase, g) in zip(phases(factors: factors), phaseGradients) {
            var t = g
            for (axis, f) in factors.enumerated() where f == 2 {
                t = mapAxis(t, axis: 2 + axis, transposed(tapMap(phase.offset[axis])))
            }
            if total == nil { total = t } else { for i in t.data.indices { total!.data[i] += t.data[i] } }
        }
        return total!
    }

    /// The 2×3 matrix taking the 3 taps of an up-sampled axis to the 2 taps of the phase at `offset`:
    /// offset 0 → `[w0, w1+w2]`, offset 1 → `[w0+w1, w2]`.
    private static func tapMap(_ offset: Int) -> [[Float]] {
        offset == 0 ? [[1, 0, 0], [0, 1, 1]] : [[1, 1, 0], [0, 0, 1]]
    }

    private static func transposed(_ m: [[Float]]) -> [[Float]] {
        (0..<m[0].count).map { j in m.map { $0[j] } }
    }

    /// Applies the matrix `m` (new taps × old taps) along `axis` at every other index.
    private static func mapAxis(_ t: HostTensor, axis: Int, _ m: [[Float]]) -> HostTensor {
        let inner = t.shape[(axis + 1)...].reduce(1, *)
        let outer = t.shape[..<axis].reduce(1, *)
        let n = t.shape[axis], taps = m.count
        var shape = t.shape
        shape[axis] = taps
        var out = HostTensor(zeros: shape)
        t.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for o in 0..<outer {
                    for k in 0..<taps {
                        let row = (o * taps + k) * inner
                        for j in 0..<n where m[k][j] != 0 {
                            let c = m[k][j], from = (o * n + j) * inner
                            for i in 0..<inner { dst[row + i] += c * src[from + i] }
                        }
                    }
                }
            }
        }
        return out
    }
}
