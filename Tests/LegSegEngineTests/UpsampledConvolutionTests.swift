import Foundation
import LegSegEngine
import LegSegDNNL
import Testing

/// The polyphase up-convolution against the two-step form it replaces (nearest up-sampling, then the 3-tap
/// convolution, both plain backend ops), and its weight map against its adjoint.
@Suite struct UpsampledConvolutionTests {
    static let cases: [[Int]] = [[2, 2], [2, 1], [1, 2, 2], [2, 2, 2], [2, 1, 2]]

    private func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> HostTensor {
        var rng = SplitMix64(seed: seed)
        var t = HostTensor(zeros: shape)
        for i in t.data.indices { t.data[i] = Float(rng.uniform() * 2 - 1) * scale }
        return t
    }

    @Test("phases + interleave equal nearest up-sampling + 3-tap convolution", arguments: cases)
    func matchesTwoStepForm(factors: [Int]) throws {
        let backend = try makeBackend()
        let rank = factors.count
        let spatial = rank == 2 ? [5, 6] : [3, 4, 5]
        let x = random([2, 5] + spatial, seed: 1)
        let w = random([7, 5] + Array(repeating: 3, count: rank), seed: 2, scale: 0.3)
        let b = random([7], seed: 3)
        let dx = try backend.upload(x, role: .activation, precision: .f32)
        let db = try backend.upload(b, role: .vector, precision: .f32)
        let up = try backend.upsample(dx, factors: factors, mode: .nearest)
        let expected = try backend.download(try backend.convolution(
            up, weight: try backend.upload(w, role: .convolutionWeight, precision: .f32), bias: db,
            geometry: .same(kernel: 3, rank: rank), epilogue: .none))
        let phases = try UpsampledConvolution.phases(factors: factors).map { phase in
            try backend.convolution(dx, weight: try backend.upload(UpsampledConvolution.phaseWeight(w, phase: phase, factors: factors),
                                                                    role: .convolutionWeight, precision: .f32),
                                    bias: db, geometry: phase.geometry, epilogue: .none)
        }
        #expect(phases.count == factors.reduce(1, *))
        let fine = try backend.interleave(phases, factors: factors)
        expectClose(try backend.download(fine), expected, tolerance: 1e-5, "polyphase \(factors)")

        // After leading tensors, interleave equals their channel concatenation with the fine grid.
        let skipA = random([2, 3] + fine.shape.dropFirst(2), seed: 6), skipB = random([2, 2] + fine.shape.dropFirst(2), seed: 7)
        let leading = try [skipA, skipB].map { try backend.upload($0, role: .activation, precision: .f32) }
        let joined = try backend.download(try backend.interleave(phases, factors: factors, after: leading))
        let concatenated = try backend.download(try backend.concatenateChannels(leading + [fine]))
        #expect(joined.shape == [2, 12] + fine.shape.dropFirst(2))
        expectClose(joined, concatenated, tolerance: 0, "interleave after leading \(factors)")

        // deinterleave is interleave's inverse, phase by phase.
        for (a, b) in zip(try backend.deinterleave(fine, factors: factors), phases) {
            expectClose(try backend.download(a), try backend.download(b), tolerance: 0, "deinterleave \(factors)")
        }
    }

    /// ⟨A w, G⟩ = ⟨w, Aᵀ G⟩ summed over the phases, in double precision: `weightGradient` is the exact adjoint
    /// of `phaseWeight`, so training through the phases yields the stored weight's true gradient.
    @Test("weightGradient is the adjoint of phaseWeight", arguments: cases)
    func adjoint(factors: [Int]) {
        let rank = factors.count
        let w = random([3, 4] + Array(repeating: 3, count: rank), seed: 4)
        let phases = UpsampledConvolution.phases(factors: factors)
        var lhs = 0.0
        var grads: [HostTensor] = []
        for (p, phase) in phases.enumerated() {
            let a = UpsampledConvolution.phaseWeight(w, phase: phase, factors: factors)
            let g = random(a.shape, seed: 10 + UInt64(p))
            for i in a.data.indices { lhs += Double(a.data[i]) * Double(g.data[i]) }
            grads.append(g)
        }
        let back = UpsampledConvolution.weightGradient(phaseGradients: grads, factors: factors)
        #expect(back.shape == w.shape)
        var rhs = 0.0
        for i in w.data.indices { rhs += Double(w.data[i]) * Double(back.data[i]) }
        #expect(abs(lhs - rhs) <= 1e-5 * max(1, abs(lhs)), "⟨Aw,G⟩ \(lhs) vs ⟨w,AᵀG⟩ \(rhs)")
    }

    @Test func interleaveRejectsWrongPhaseCounts() throws {
        let backend = try makeBackend()
        let x = try backend.upload(random([1, 2, 3, 3], seed: 5), role: .activation, precision: .f32)
        #expect(throws: EngineError.self) { try backend.interleave([x, x, x], factors: [2, 2]) }
        #expect(throws: EngineError.self) { try backend.deinterleave(x, factors: [2, 2]) }
        // A leading tensor off the fine grid is refused.
        #expect(throws: EngineError.self) { try backend.interleave([x, x, x, x], factors: [2, 2], after: [x]) }
    }
}
