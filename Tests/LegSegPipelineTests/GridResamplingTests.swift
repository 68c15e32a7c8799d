import Foundation
import Testing
import LegSegIO
@testable import LegSegPipeline

/// Resampling to and from a network's voxel size, against closed forms: voxel centres keep their world
/// position, trilinear interpolation reproduces affine functions exactly, and nearest-neighbour picks the voxel
/// whose centre is closest.
struct GridResamplingTests {
    let affine = Affine(rows: [[-1.5, 0, 0, 40], [0, -1.5, 0, 30], [0, 0, 6, -90], [0, 0, 0, 1]])

    @Test func shapeAndAffineKeepTheWorldExtent() {
        let shape = [64, 60, 11]
        let newShape = GridResampling.shape(shape, spacing: affine.spacing, target: [3, 3, 6])
        #expect(newShape == [32, 30, 11])
        let coarse = GridResampling.affine(affine, from: shape, to: newShape)
        #expect(coarse.spacing.enumerated().allSatisfy { abs($0.element - [3, 3, 6][$0.offset]) < 1e-12 })
        // The outer faces of both grids coincide: corner of voxel (-0.5, -0.5, -0.5) and of (n - 0.5, ...).
        for corner in [[-0.5, -0.5, -0.5], [63.5, 59.5, 10.5]] {
            let coarseCorner = (0..<3).map { a in corner[a] < 0 ? -0.5 : Double(newShape[a]) - 0.5 }
            let a = affine.apply(corner), b = coarse.apply(coarseCorner)
            #expect((0..<3).allSatisfy { abs(a[$0] - b[$0]) < 1e-9 }, "\(a) vs \(b)")
        }
    }

    @Test func linearReproducesAnAffineFunctionOfWorldPosition() {
        let shape = [20, 18, 7], newShape = [9, 13, 7]
        let f: ([Double]) -> Double = { 0.3 * $0[0] - 0.2 * $0[1] + 0.05 * $0[2] + 4 }
        var values = [Float](repeating: 0, count: shape.reduce(1, *))
        for k in 0..<shape[2] { for j in 0..<shape[1] { for i in 0..<shape[0] {
            values[i + shape[0] * (j + shape[1] * k)] = Float(f(affine.apply([Double(i), Double(j), Double(k)])))
        } } }
        let out = GridResampling.linear(values, channels: 1, from: shape, to: newShape)
        let newAffine = GridResampling.affine(affine, from: shape, to: newShape)
        var worst = 0.0
        for k in 0..<newShape[2] { for j in 0..<newShape[1] { for i in 0..<newShape[0] {
            // Centres within the old grid's outer centres are interpolated exactly; edges are clamped.
            let old = (0..<3).map { a in (Double([i, j, k][a]) + 0.5) * Double(shape[a]) / Double(newShape[a]) - 0.5 }
            guard (0..<3).allSatisfy({ old[$0] >= 0 && old[$0] <= Double(shape[$0] - 1) }) else { continue }
            let expected = f(newAffine.apply([Double(i), Double(j), Double(k)]))
            worst = max(worst, abs(Double(out[i + newShape[0] * (j + newShape[1] * k)]) - expected))
        } } }
        #expect(worst < 1e-4, "largest error \(worst)")
    }

    @Test func upAndDownOnTheSameShapeIsTheIdentityAndChannelsStayApart() {
        let shape = [5, 4, 3]
        let values = (0..<(2 * 60)).map { Float($0 % 17) }
        #expect(GridResampling.linear(values, channels: 2, from: shape, to: shape) == values)
        let upsampled = GridResampling.linear(values, channels: 2, from: shape, to: [10, 8, 3])
        // A constant second channel stays constant.
        let constant = [Float](repeating: 1, count: 60) + [Float](repeating: 7, count: 60)
        let up = GridResampling.linear(constant, channels: 2, from: shape, to: [10, 8, 3])
        #expect(up[0..<240].allSatisfy { $0 == 1 } && up[240...].allSatisfy { $0 == 7 })
        #expect(upsampled.count == 480)
    }

    @Test func nearestPicksTheClosestCentre() {
        // 1D along i: 6 voxels → 3 voxels: new centres at old coordinates 0.5, 2.5, 4.5 → rounded 1, 3, 5 (ties up).
        let labels: [UInt8] = [10, 11, 12, 13, 14, 15]
        #expect(GridResampling.nearest(labels, from: [6, 1, 1], to: [3, 1, 1]) == [11, 13, 15])
        // 3 → 6: centres at -0.25, 0.25, 0.75, 1.25, 1.75, 2.25 → 0, 0, 1, 1, 2, 2.
        #expect(GridResampling.nearest([UInt8]([1, 2, 3]), from: [3, 1, 1], to: [6, 1, 1]) == [1, 1, 2, 2, 3, 3])
    }

    @Test func resampledVolumesCarryTheAdjustedAffine() {
        let v = Volume<Float>(shape: [8, 8, 4], repeating: 2, affine: affine)
        let coarse = GridResampling.resampled(v, toSpacing: [3, 3, 6])
        #expect(coarse.shape == [4, 4, 4] && coarse.voxels.allSatisfy { $0 == 2 })
        #expect(coarse.affine == GridResampling.affine(affine, from: [8, 8, 4], to: [4, 4, 4]))
        #expect(!GridResampling.isNeeded(spacing: [1.5, 1.5, 6], target: [1.51, 1.5, 6]))
        #expect(GridResampling.isNeeded(spacing: [1.5, 1.5, 6], target: [3, 3, 6]))
    }
}
