import Foundation
import Testing
import LegSegIO
@testable import LegSegPipeline

/// Synthetic "legs": bright elliptic cylinders with a dark core (bone marrow in out-phase) on a noisy background.
func syntheticLegs(shape: [Int] = [64, 40, 6], centres: [(Double, Double)], radius: Double = 9, affine: Affine) -> (image: Volume<Float>, truth: Volume<UInt8>) {
    var image = Volume<Float>(shape: shape, repeating: 0, affine: affine)
    var truth = Volume<UInt8>(shape: shape, repeating: 0, affine: affine)
    var state: UInt64 = 7
    for k in 0..<shape[2] { for j in 0..<shape[1] { for i in 0..<shape[0] {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let noise = Float(state >> 40) / Float(1 << 24) * 3  // background noise 0-3
        var value = noise
        for (ci, cj) in centres {
            let d = ((Double(i) - ci) * (Double(i) - ci) + (Double(j) - cj) * (Double(j) - cj)).squareRoot()
            if d <= radius { value = d < 2.5 ? 8 : 100 + noise; truth[i, j, k] = 1 }
        }
        image[i, j, k] = value
    } } }
    return (image, truth)
}

func dice(_ a: Volume<UInt8>, _ b: Volume<UInt8>) -> Double {
    var both = 0, na = 0, nb = 0
    for n in a.voxels.indices { if a.voxels[n] != 0 { na += 1 }; if b.voxels[n] != 0 { nb += 1 }; if a.voxels[n] != 0 && b.voxels[n] != 0 { both += 1 } }
    return 2 * Double(both) / Double(max(1, na + nb))
}

@Suite struct ForegroundMaskTests {
    @Test func findsBothLegsAndFillsTheDarkMarrow() {
        let (image, truth) = syntheticLegs(centres: [(18, 20), (46, 20)], affine: Affine.scaling([-1.5, -1.5, 6]))
        let mask = ForegroundMask()(image)
        #expect(dice(mask, truth) > 0.95)
        #expect(mask[18, 20, 3] == 1)  // the dark core is inside the body
        #expect(mask[0, 0, 0] == 0 && mask[32, 20, 3] == 0)  // background and the gap between the legs
        #expect(ConnectedComponents(mask).sizes.count == 2)
    }

    /// Rician-like background noise at an SNR of 8 lies above 10 % of the foreground median; the mask must
    /// still be the two legs, not the whole field of view.
    @Test func backgroundNoiseAboveTenPercentStaysOutOfTheMask() {
        let affine = Affine.scaling([1.5, 1.5, 6])
        var (image, truth) = syntheticLegs(centres: [(16, 20), (48, 20)], affine: affine)
        var state: UInt64 = 3
        func gauss() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u1 = max(Double(state >> 11) * 0x1p-53, 1e-12)
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * Double(state >> 11) * 0x1p-53)
        }
        let sigma = 100.0 / 8
        for n in image.voxels.indices {  // magnitude of signal + complex Gaussian noise
            let s = truth.voxels[n] != 0 ? Double(image.voxels[n]) : 0
            let real = s + sigma * gauss(), imaginary = sigma * gauss()
            image.voxels[n] = Float((real * real + imaginary * imaginary).squareRoot())
        }
        let mask = ForegroundMask()(image)
        #expect(dice(mask, truth) > 0.9, "Dice \(dice(mask, truth))")
        #expect(LegSides().split(mask).count == 2)
    }

    @Test func emptyAndConstantImagesGiveAnEmptyMask() {
        let empty = Volume<Float>(shape: [8, 8, 3], repeating: 0, affine: .identity)
        #expect(!ForegroundMask()(empty).voxels.contains(1))
        let flat = Volume<Float>(shape: [8, 8, 3], repeating: 5, affine: .identity)
        #expect(!ForegroundMask()(flat).voxels.contains(1))
    }

    @Test func referenceNormalisationPutsTheForegroundMedianAt100() throws {
        let (image, truth) = syntheticLegs(centres: [(20, 20)], affine: .identity)
        let n = try #require(ForegroundMask.referenceNormalised(image.voxels))
        let inside = n.indices.filter { truth.voxels[$0] != 0 && image.voxels[$0] > 50 }.map { n[$0] }
        #expect(abs(median(inside) - 100) < 3)
    }
}

@Suite struct LegSidesTests {
    /// Canonical LPS affine: i runs toward the subject's left (world −x).
    let lps = Affine(rows: [[-1.5, 0, 0, 48], [0, -1.5, 0, 30], [0, 0, 6, 0], [0, 0, 0, 1]])

    @Test func twoSeparateLegsSplitInTheGapWithOverlap() {
        let (_, truth) = syntheticLegs(centres: [(16, 20), (48, 20)], affine: lps)
        let parts = LegSides().split(truth)
        #expect(parts.count == 2)
        #expect(parts[0].side == .right && parts[1].side == .left)
        let overlap = 6  // 10 % of 64, rounded
        let cut = parts[0].columns.upperBound - overlap
        #expect(cut > 25 && cut < 39)  // between the legs (edges at 25 and 39)
        #expect(parts[1].columns.lowerBound == cut - overlap)
        #expect(parts[0].columns.lowerBound == 0 && parts[1].columns.upperBound == 64)
        // Each column's labels are written by exactly one leg.
        #expect(parts[0].owned == 0..<cut && parts[1].owned == cut..<64)
    }

    @Test func touchingLegsSplitAtTheValley() {
        let (_, truth) = syntheticLegs(centres: [(23, 20), (41, 20)], affine: lps)
        #expect(ConnectedComponents(truth).sizes.count == 1)
        let parts = LegSides().split(truth)
        #expect(parts.count == 2)
        let cut = parts[0].columns.upperBound - 6
        #expect(abs(cut - 32) <= 1)
    }

    @Test func oneLegGetsItsSideFromWorldCoordinates() {
        // Leg centre at i = 16: world x = 48 − 1.5·16 = 24 > 0 → subject's right.
        let (_, right) = syntheticLegs(centres: [(16, 20)], affine: lps)
        #expect(LegSides().split(right) == [LegPart(side: .right, columns: 0..<64)])
        let (_, left) = syntheticLegs(centres: [(48, 20)], affine: lps)
        #expect(LegSides().split(left).map(\.side) == [.left])
    }

    /// Legs joined by a broad "pelvis" in the top slices form one component, and the pelvis fills the
    /// whole-volume profile's valley; the slices where the legs are apart still give the cut.
    @Test func legsJoinedAtThePelvisSplitWhereTheyAreApart() {
        var (_, truth) = syntheticLegs(shape: [64, 40, 10], centres: [(16, 20), (48, 20)], affine: lps)
        for k in 7..<10 { for j in 5..<35 { for i in 4..<60 { truth[i, j, k] = 1 } } }
        #expect(ConnectedComponents(truth).sizes.count == 1)
        let parts = LegSides().split(truth)
        #expect(parts.map(\.side) == [.right, .left])
        let cut = parts.first.map(\.owned.upperBound) ?? 0
        #expect(cut > 25 && cut < 39, "cut at \(cut)")
    }

    @Test func emptyMaskHasNoLegs() {
        #expect(LegSides().split(Volume<UInt8>(shape: [10, 10, 2], repeating: 0, affine: lps)).isEmpty)
    }
}
