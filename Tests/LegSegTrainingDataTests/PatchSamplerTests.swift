import Testing
import LegSegIO
@testable import LegSegTraining

@Suite struct PatchSamplerTests {
    @Test func classBalancedSamplingFindsRareClassesAndStaysInside() {
        var labels = Volume<UInt8>(shape: [40, 30, 10], repeating: 0, affine: .identity)
        for n in 0..<6000 { labels.voxels[n] = 1 }   // a big class
        labels[35, 25, 8] = 7                           // a one-voxel class
        let sampler = PatchSampler(labels: labels, patchSize: [8, 8, 4], foregroundFraction: 1)
        var g = SeededGenerator(seed: 3)
        var hits = 0
        for _ in 0..<400 {
            let o = sampler.origin(using: &g)
            #expect((0..<3).allSatisfy { o[$0] >= 0 && o[$0] + [8, 8, 4][$0] <= labels.shape[$0] })
            if (o[0]..<o[0] + 8).contains(35) && (o[1]..<o[1] + 8).contains(25) && (o[2]..<o[2] + 4).contains(8) { hits += 1 }
        }
        // Two classes, equally likely: about half the patches hold the one-voxel class.
        #expect(hits > 150 && hits < 250)
        var a = SeededGenerator(seed: 5), b = SeededGenerator(seed: 5)
        #expect(sampler.origin(using: &a) == sampler.origin(using: &b))
    }

    @Test func patchesLargerThanTheVolumeAreCentred() {
        let labels = Volume<UInt8>(shape: [10, 10, 3], repeating: 0, affine: .identity)
        let sampler = PatchSampler(labels: labels, patchSize: [16, 8, 4])
        var g = SeededGenerator(seed: 1)
        let o = sampler.origin(using: &g)
        // i: 16 > 10 → centred at −3; j: 8 ≤ 10 → uniform in 0...2; k: span −1 → 0 (patch reaches one slice past).
        #expect(o[0] == -3 && (0...2).contains(o[1]) && o[2] == 0)
    }
}
