import CDNNL
import LegSegEngine

// MARK: - Narrow outputs: neighbouring outputs paired into channels

extension DNNLBackend {
    /// oneDNN's CPU kernels compute output channels in blocks of 16 lanes, so a convolution with 8 or fewer
    /// outputs leaves at least half of every vector empty. Such a convolution is run as the same convolution with
    /// twice the outputs, stride 2 and one more tap along the last spatial axis: channel `p·O + o` at `x` is output
    /// `o` at `2x + p`. In channels-last memory that is exactly the original output, so the result is a view and
    /// nothing is copied. It costs (k+1)/k the multiply-adds (4/3 for 3 taps) to fill the vectors: a 32→8
    /// convolution at 32×112×112 goes from 37–39 to 28–31 ms in f32 and 21–22 to 16 ms in bf16 (2-core AVX-512).
    ///
    /// Returns nil where pairing does not apply: transposed, fewer than 3 taps or stride or dilation ≠ 1 along the
    /// last axis, an odd output size there, more than 8 outputs, or `pairsNarrowOutputs` off.
    func pairedNarrowConvolution(_ x: DNNLTensor, _ w: DNNLTensor, _ b: DNNLTensor?, _ g: ConvolutionGeometry,
                                 _ epilogue: Epilogue, _ residual: DNNLTensor?, _ outShape: [Int]) throws -> DNNLTensor? {
        let last = g.spatialRank - 1, outputs = outShape[1]
        guard pairsNarrowOutputs, outputs <= 8, g.kernel[last] >= 3, g.stride[last] == 1, g.dilation[last] == 1,
              outShape[outShape.count - 1] % 2 == 0 else { return nil }
        var pairedShape = outShape
        pairedShape[1] = 2 * outputs
        pairedShape[pairedShape.count - 1] /= 2
        let layout = channelsLastTag(outShape.count)
        var epilogue = epilogue
        // The residual is summed in place, so it needs the channels-last layout the pairing relies on.
        let denseResidual = try residual.map { try conform($0, to: tagMD(outShape, dataType($0.precision), layout), constant: false) }
        if let denseResidual {
            epilogue.residual = try DNNLTensor(view: tagMD(pairedShape, dataType(denseResidual.precision), layout),
                                               shape: pairedShape, of: denseResidual, engine: engine)
        }
        pairedConvolutionExecutions += 1
        var pairedGeometry = g
        pairedGeometry.kernel[last] += 1
        pairedGeometry.stride[last] = 2
        let y = try cast(try convolution(x, weight: try pairedWeight(w), bias: try b.map(pairedBias), geometry: pairedGeometry,
                                         epilogue: epilogue), "convolution")
        // y is the residual's view when the sum ran in place, a fresh tensor otherwise (AVX2's binary-add fallback).
        let dense = try conform(y, to: tagMD(pairedShape, dataType(y.precision), layout), constant: false)
        return try DNNLTensor(view: tagMD(outShape, dataType(y.precision), layout), shape: outShape, of: dense, engine: engine)
    }

    /// `W'[p·O + o, i, …, t] = W[o, i, …, t − p]` (zero outside the kernel), kept as a variant of the weight.
    private func pairedWeight(_ w: DNNLTensor) throws -> DNNLTensor {
        try w.variant(CacheKey("paired outputs")) {
            let host = try download(w)
            let dims = w.md.dimensions, k = dims[dims.count - 1]
            let rows = host.count / k  // rows of k last-axis taps, ordered (o, i, leading taps)
            var paired = HostTensor(zeros: [2 * dims[0]] + dims.dropFirst().dropLast() + [k + 1])
            for p in 0..<2 {
                for r in 0..<rows {
                    let target = (p * rows + r) * (k + 1) + p
                    for t in 0..<k { paired.data[target + t] = host.data[r * k + t] }
                }
            }
            return try cast(try upload(paired, role: .convolutionWeight, precision: w.precision), "convolution")
        }
    }

    /// The bias repeated for both members of each pair.
    private func pairedBias(_ b: DNNLTensor) throws -> DNNLTensor {
        try b.variant(CacheKey("paired outputs")) {
            let host = try download(b)
            return try cast(try upload(try HostTensor(shape: [2 * host.count], data: host.data + host.data), role: .vector,
                                       precision: .f32), "convolution")
        }
    }
}
