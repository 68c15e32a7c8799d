import Foundation
import LegSegEngine
import LegSegDNNL
import Testing

/// Convolutions with ≤ 8 outputs run paired (two neighbouring outputs along the last axis per channel pair, see
/// `DNNLBackend.pairedNarrowConvolution`). Each case runs the same convolution with pairing on and off; the
/// PyTorch parity suites cover the paired form against an independent implementation as well.
@Suite struct NarrowOutputPairingTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var input: [Int]
        var outputs: Int
        var geometry: ConvolutionGeometry
        var activation: Activation = .identity
        var residual = false
        var paired: Bool
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "3d 3-tap, 5→3", input: [2, 5, 3, 4, 6], outputs: 3, geometry: .same(kernel: 3, rank: 3), paired: true),
        Case(name: "3d gelu + residual, 6→8", input: [1, 6, 4, 5, 8], outputs: 8, geometry: .same(kernel: 3, rank: 3),
             activation: .gelu, residual: true, paired: true),
        Case(name: "2d 5-tap, stride 2 along y, 4→2", input: [1, 4, 9, 10], outputs: 2,
             geometry: ConvolutionGeometry(kernel: [3, 5], stride: [2, 1], padding: [1, 2]), activation: .relu, paired: true),
        Case(name: "polyphase 3×2×2 kernel, asymmetric padding", input: [1, 4, 3, 4, 6], outputs: 4,
             geometry: ConvolutionGeometry(kernel: [3, 3, 4], padding: [1, 1, 2], paddingEnd: [1, 1, 1]), paired: true),
        Case(name: "odd output width stays unpaired", input: [1, 3, 3, 4, 7], outputs: 4, geometry: .same(kernel: 3, rank: 3), paired: false),
        Case(name: "16 outputs stay unpaired", input: [1, 3, 3, 4, 6], outputs: 16, geometry: .same(kernel: 3, rank: 3), paired: false),
        Case(name: "1×1 stays unpaired", input: [1, 3, 3, 4, 6], outputs: 4, geometry: .same(kernel: 1, rank: 3), paired: false),
    ]

    private func random(_ shape: [Int], seed: UInt64) -> HostTensor {
        var rng = SplitMix64(seed: seed)
        var t = HostTensor(zeros: shape)
        for i in t.data.indices { t.data[i] = Float(rng.uniform() * 2 - 1) }
        return t
    }

    private func run(_ c: Case, pairing: Bool, precision: Precision) throws -> (HostTensor, Int) {
        let backend = try makeBackend()
        backend.pairsNarrowOutputs = pairing
        let x = try backend.upload(random(c.input, seed: 1), role: .activation, precision: precision)
        let w = try backend.upload(random([c.outputs, c.input[1]] + c.geometry.kernel, seed: 2), role: .convolutionWeight,
                                   precision: precision)
        let b = try backend.upload(random([c.outputs], seed: 3), role: .vector, precision: .f32)
        let outShape = [c.input[0], c.outputs] + (try c.geometry.convolutionOutput(Array(c.input.dropFirst(2))))
        let residual = c.residual ? try backend.upload(random(outShape, seed: 4), role: .activation, precision: precision) : nil
        let y = try backend.convolution(x, weight: w, bias: b, geometry: c.geometry,
                                        epilogue: Epilogue(activation: c.activation, residual: residual))
        return (try backend.download(y), backend.pairedConvolutionExecutions)
    }

    @Test("paired and plain convolutions agree", arguments: cases)
    func pairedEqualsPlain(c: Case) throws {
        for precision in [Precision.f32, .bf16] {
            let (plain, plainPaired) = try run(c, pairing: false, precision: precision)
            let (paired, pairedCount) = try run(c, pairing: true, precision: precision)
            #expect(plainPaired == 0)
            #expect(pairedCount == (c.paired ? 1 : 0), "\(c.name) \(precision): paired \(pairedCount) times")
            // Same products and sums in another order: f32 rounding, or one bf16 step of the output.
            let scale = plain.data.map(abs).max() ?? 1
            expectClose(paired, plain, tolerance: precision == .f32 ? 1e-5 * max(1, scale) : 1e-2 * max(1, scale),
                        "\(c.name) \(precision)")
        }
    }
}
