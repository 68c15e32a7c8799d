import Foundation
import Testing
import LegSegIO
@testable import LegSegTraining

@Suite struct AugmentationTests {
    let affine = Affine.scaling([1.5, 1.5, 6])

    func volumes(_ shape: [Int] = [12, 12, 3]) -> (Volume<Float>, Volume<UInt8>) {
        var img = Volume<Float>(shape: shape, repeating: 0, affine: affine)
        var lab = Volume<UInt8>(shape: shape, repeating: 0, affine: affine)
        for k in 0..<shape[2] { for j in 0..<shape[1] { for i in 0..<shape[0] {
            img[i, j, k] = Float(1 + i + 2 * j + 5 * k)
            lab[i, j, k] = i < 4 ? 61 : (j > 7 ? 151 : (i + j) % 3 == 0 ? 5 : 0)
        } } }
        return (img, lab)
    }

    @Test func identityParametersChangeNothing() {
        let (img, lab) = volumes()
        let out = Augmenter().apply(AugmentationParameters(), image: img, labels: lab)
        #expect(out.image.voxels == img.voxels && out.labels.voxels == lab.voxels)
    }

    @Test func aTranslationOfOneVoxelShiftsByOneVoxel() {
        let (img, lab) = volumes()
        var p = AugmentationParameters()
        p.translationMM = [1.5, 0, 0]
        let out = Augmenter().apply(p, image: img, labels: lab)
        for k in 0..<3 { for j in 0..<12 { for i in 1..<12 {
            #expect(out.labels[i, j, k] == lab[i - 1, j, k])
            #expect(abs(out.image[i, j, k] - img[i - 1, j, k]) < 1e-4)
        } } }
        #expect(out.labels[0, 0, 0] == 0 && out.image[0, 0, 0] == 0)  // came from outside
    }

    @Test func halfVoxelShiftsInterpolateLinearRampsExactly() {
        let (img, lab) = volumes()
        var p = AugmentationParameters()
        p.translationMM = [0.75, 0, 0]
        let out = Augmenter().apply(p, image: img, labels: lab)
        for i in 1..<12 { #expect(abs(out.image[i, 4, 1] - (img[i, 4, 1] - 0.5)) < 1e-4) }
    }

    @Test func aQuarterTurnInPlaneRotatesTheArray() {
        let (img, lab) = volumes()
        var p = AugmentationParameters()
        p.rotation = [Double.pi / 2, 0, 0]
        let out = Augmenter().apply(p, image: img, labels: lab)
        // out(x, y) = in(A⁻¹(x, y)) = in(y, −x) about the centre: out[i][j] = in[j][n−1−i].
        for k in 0..<3 { for j in 0..<12 { for i in 0..<12 {
            #expect(out.labels[i, j, k] == lab[j, 11 - i, k])
            #expect(abs(out.image[i, j, k] - img[j, 11 - i, k]) < 1e-3)
        } } }
    }

    @Test func mirroringSwapsSidesAndTwiceIsIdentity() {
        let (img, lab) = volumes()
        var p = AugmentationParameters()
        p.mirror = true
        let a = Augmenter()
        let once = a.apply(p, image: img, labels: lab)
        #expect(once.labels[11, 0, 0] == 62)   // rectus femoris left (61) became right (62) on the other side
        #expect(once.labels[0, 0, 0] == lab[11, 0, 0] || once.labels[0, 0, 0] == UInt8(a.mirrorLabels[Int(lab[11, 0, 0])] ?? Int(lab[11, 0, 0])))
        #expect(once.labels[2, 9, 1] == 151)    // unsided fat stays fat
        #expect(once.labels.voxels.contains(5) == false && once.labels.voxels.contains(6))
        let twice = a.apply(p, image: once.image, labels: once.labels)
        #expect(twice.labels.voxels == lab.voxels && twice.image.voxels == img.voxels)
    }

    @Test func gammaBrightnessAndRicianNoiseFollowTheirClosedForms() {
        var img = Volume<Float>(shape: [40, 40, 10], repeating: 2, affine: affine)
        img[0, 0, 0] = 4  // the maximum sets the scale
        let lab = Volume<UInt8>(shape: img.shape, repeating: 0, affine: affine)
        var p = AugmentationParameters()
        p.gamma = 2; p.brightness = 0.5
        let out = Augmenter().apply(p, image: img, labels: lab).image
        #expect(abs(out[5, 5, 5] - 4 * 0.5 * 0.25) < 1e-5)  // top · b · (v/top)^γ
        p = AugmentationParameters(); p.noise = 0.1; p.fieldSeed = 9
        let noisy = Augmenter().apply(p, image: img, labels: lab).image.voxels.dropFirst().map { Double($0) / 4 }
        let mean = noisy.reduce(0, +) / Double(noisy.count)
        let sd = (noisy.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(noisy.count)).squareRoot()
        // Rician with ν = 0.5, σ = 0.1: mean ≈ ν + σ²/(2ν) = 0.51, standard deviation ≈ σ.
        #expect(abs(mean - 0.51) < 0.004)
        #expect(abs(sd - 0.1) < 0.006)
    }

    @Test func drawsAreDeterministicForASeed() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7)
        let r = AugmentationRanges()
        #expect(r.draw(using: &a, slices: 30) == r.draw(using: &b, slices: 30))
        var c = SeededGenerator(seed: 8)
        #expect(r.draw(using: &a, slices: 30) != r.draw(using: &c, slices: 30))
    }
}
