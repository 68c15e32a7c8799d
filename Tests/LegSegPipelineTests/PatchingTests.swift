import Foundation
import Testing
import LegSegEngine
@testable import LegSegPipeline

@Suite struct PatchingTests {
    @Test func gridCoversEveryVoxelWithTheRequestedOverlap() {
        #expect(PatchGrid.axisStarts(length: 100, patch: 40, overlap: 0.5) == [0, 20, 40, 60])
        #expect(PatchGrid.axisStarts(length: 30, patch: 40, overlap: 0.5) == [0])
        for (length, patch) in [(113, 32), (320, 112), (31, 16), (17, 16)] {
            let s = PatchGrid.axisStarts(length: length, patch: patch, overlap: 0.5)
            #expect(s.first == 0 && s.last == length - patch)
            for (a, b) in zip(s, s.dropFirst()) { #expect(b - a <= patch / 2 && b > a) }
        }
        let grid = PatchGrid(dataShape: [50, 40, 10], patchSize: [32, 32, 16])
        #expect(grid.count == grid.origins.count && grid.origins.first == [0, 0, 0])
    }

    @Test func gaussianWeightsAreSymmetricPositiveAndPeakAtTheCentre() {
        let g = GaussianWeights(size: [9, 8, 4])
        #expect(g.weights.allSatisfy { $0 > 0 && $0 <= 1 })
        #expect(g.weights.max() == 1)
        func w(_ i: Int, _ j: Int, _ k: Int) -> Float { g.weights[i + 9 * (j + 8 * k)] }
        #expect(w(0, 0, 0) == w(8, 7, 3) && w(2, 3, 1) == w(6, 4, 2))
        #expect(w(4, 3, 1) > w(1, 3, 1))
    }

    @Test func overlappingPatchesAverageWithTheirWeights() {
        // Two 1-D patches of length 4 over 6 voxels, class 1 probability 1 in the first and 0 in the second.
        let weights = GaussianWeights(size: [4, 1, 1])
        var acc = ProbabilityAccumulator(shape: [6, 1, 1], classes: 2)
        acc.add([0, 0, 0, 0, 1, 1, 1, 1], origin: [0, 0, 0], weights: weights)
        acc.add([1, 1, 1, 1, 0, 0, 0, 0], origin: [2, 0, 0], weights: weights)
        let w = weights.weights
        // Voxel 2 is patch-1 index 2 and patch-2 index 0.
        #expect(abs(acc.probability(1, at: 2) - w[2] / (w[2] + w[0])) < 1e-6)
        #expect(acc.probability(1, at: 0) == 1 && acc.probability(1, at: 5) == 0)
        let decoded = acc.decode()
        #expect(decoded.classes == [1, 1, 1, 0, 0, 0])
        // A patch hanging over the border contributes only inside.
        acc.add([Float](repeating: 0.5, count: 8), origin: [4, 0, 0], weights: weights)
        #expect(acc.weightSums.count == 6)
    }

    @Test func plannerRespectsTheBudgetAndTheStep() {
        let planner = PatchSizePlanner(step: [16, 16, 16], fixedBytes: 100e6, bytesPerVoxel: 2000)
        let small = planner.patchSize(for: [300, 200, 31], budgetBytes: 1e9)
        #expect(small.enumerated().allSatisfy { $0.element % 16 == 0 && $0.element > 0 })
        #expect(100e6 + 2000 * Double(small.reduce(1, *)) <= 1e9)
        let large = planner.patchSize(for: [300, 200, 31], budgetBytes: 8e9)
        #expect(large.reduce(1, *) > small.reduce(1, *))
        #expect(large[0] <= 304 && large[1] <= 208 && large[2] <= 32)
        // Everything fits: the whole (rounded-up) volume is one patch.
        #expect(planner.patchSize(for: [40, 30, 10], budgetBytes: 1e12) == [48, 32, 16])
    }

    @Test func uniformNormalisationIsTheHistogramCDFOfTheForeground() {
        var values: [Float] = [0, 0, 0, 10, 20, 20, 30, 40]
        let original = values
        InputNormalization(rule: "uniform", bins: 4).apply(to: &values)
        // Bins of width 10 over [0, 40): counts [3→0 (background), 1, 2, 1]; 40 falls outside; total 4.
        // Lookup bin = ⌊3·(v − 0)/40⌋: 0→0, 10→0, 20→1, 30→2, 40→3.
        let cdf: [Float] = [0, 0.25, 0.75, 1.0]
        let expected = original.map { cdf[min(3, Int(3 * $0 / 40))] }
        #expect(values == expected)
        var z: [Float] = [0, 1, 2, 3]
        InputNormalization(rule: "zscore").apply(to: &z)
        #expect(z[0] == 0 && abs(z[1] + z[2] + z[3]) < 1e-6)
    }
}
