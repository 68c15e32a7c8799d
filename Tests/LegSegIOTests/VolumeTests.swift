import Foundation
import Testing
@testable import LegSegIO

@Suite struct VolumeTests {
    let volume = OrientationTests.labelledVolume(permutation: [0, 2, 1], signs: [-1, 1, -1], shape: [6, 5, 4])

    func world(_ v: Volume<Float>, _ i: Int, _ j: Int, _ k: Int) -> [Double] { v.affine.apply([Double(i), Double(j), Double(k)]) }

    @Test func cropKeepsWorldPositions() {
        let box = VoxelBox(lower: [1, 2, 1], upper: [5, 4, 4])
        let c = volume.cropped(to: box)
        #expect(c.shape == [4, 2, 3])
        for (i, j, k) in [(0, 0, 0), (3, 1, 2), (2, 0, 1)] {
            #expect(c[i, j, k] == volume[i + 1, j + 2, k + 1])
            let a = world(c, i, j, k), b = world(volume, i + 1, j + 2, k + 1)
            #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-9 })
        }
    }

    @Test func padFillsOutsideAndKeepsWorldPositions() {
        let p = volume.padded(lower: [2, 0, 1], upper: [1, 3, 0], fill: -1)
        #expect(p.shape == [9, 8, 5])
        #expect(p[0, 0, 0] == -1 && p[8, 7, 4] == -1)
        #expect(p[2, 0, 1] == volume[0, 0, 0])
        let a = world(p, 2, 0, 1), b = world(volume, 0, 0, 0)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-9 })
        // Cropping the padding away gives the original back.
        let back = p.cropped(to: VoxelBox(lower: [2, 0, 1], upper: [8, 5, 5]))
        #expect(back.voxels == volume.voxels)
        #expect(back.affine.maxAbsDifference(volume.affine) < 1e-9)
    }

    @Test func extractingAcrossTheBorderAndPastingBack() {
        let patch = volume.extracting(origin: [-2, 3, 2], size: [4, 4, 4], fill: 0)
        #expect(patch[2, 0, 0] == volume[0, 3, 2])
        #expect(patch[0, 0, 0] == 0 && patch[3, 3, 3] == 0)  // outside on i<0 and j≥5
        var copy = Volume<Float>(shape: volume.shape, repeating: 0, affine: volume.affine)
        copy.paste(patch, at: [-2, 3, 2])
        #expect(copy[0, 3, 2] == volume[0, 3, 2] && copy[1, 4, 3] == volume[1, 4, 3])
        #expect(copy[2, 3, 2] == 0)
    }

    @Test func boundingBoxFindsTheForeground() {
        var v = Volume<UInt8>(shape: [5, 5, 5], repeating: 0, affine: .identity)
        #expect(v.boundingBox { $0 > 0 } == nil)
        v[1, 2, 3] = 1; v[3, 2, 4] = 2
        #expect(v.boundingBox { $0 > 0 } == VoxelBox(lower: [1, 2, 3], upper: [4, 3, 5]))
    }

    @Test func voxelVolumeComesFromTheAffine() {
        #expect(abs(volume.voxelVolumeMM3 - 1.5 * 0.9 * 6.0) < 1e-12)
    }
}
