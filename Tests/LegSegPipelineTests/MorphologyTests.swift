import Foundation
import Testing
import LegSegIO
@testable import LegSegPipeline

@Suite struct MorphologyTests {
    struct Rng { var s: UInt64; mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 } }

    func randomMask(_ shape: [Int], density: UInt64, seed: UInt64) -> Volume<UInt8> {
        var r = Rng(s: seed)
        return Volume(shape: shape, voxels: (0..<shape.reduce(1, *)).map { _ in r.next() % 100 < density ? 1 : 0 }, affine: .identity)
    }

    /// Brute force: max (dilation) or min (erosion, outside = 1) over the (2r+1)^3 box.
    func bruteForce(_ m: Volume<UInt8>, radius r: Int, dilate: Bool) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: m.count)
        for k in 0..<m.shape[2] { for j in 0..<m.shape[1] { for i in 0..<m.shape[0] {
            var value: UInt8 = dilate ? 0 : 1
            for dk in -r...r { for dj in -r...r { for di in -r...r {
                let (a, b, c) = (i + di, j + dj, k + dk)
                let inside = a >= 0 && b >= 0 && c >= 0 && a < m.shape[0] && b < m.shape[1] && c < m.shape[2]
                let v: UInt8 = inside ? m[a, b, c] : (dilate ? 0 : 1)
                value = dilate ? max(value, v) : min(value, v)
            } } }
            out[m.index(i, j, k)] = value
        } } }
        return out
    }

    @Test(arguments: [1, 2])
    func separableBoxFiltersMatchBruteForce(radius: Int) {
        for seed in 1...3 as ClosedRange<UInt64> {
            let m = randomMask([9, 7, 6], density: seed == 1 ? 8 : 70, seed: seed)
            #expect(Morphology.dilate(m, radius: radius).voxels == bruteForce(m, radius: radius, dilate: true))
            #expect(Morphology.erode(m, radius: radius).voxels == bruteForce(m, radius: radius, dilate: false))
        }
    }

    @Test func gaussianMatchesDirect3DConvolutionWithReplicatedBorder() {
        var r = Rng(s: 9)
        let shape = [7, 6, 5]
        let values = (0..<shape.reduce(1, *)).map { _ in Float(r.next() % 1000) / 10 }
        let sigma = 1.0, radius = 2
        let fast = Morphology.gaussian(values, shape: shape, sigma: sigma, radius: radius)
        let g = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let norm = g.reduce(0, +)
        func at(_ i: Int, _ j: Int, _ k: Int) -> Double {
            let c = { (v: Int, n: Int) in min(n - 1, max(0, v)) }
            return Double(values[c(i, shape[0]) + shape[0] * (c(j, shape[1]) + shape[1] * c(k, shape[2]))])
        }
        for k in 0..<shape[2] { for j in 0..<shape[1] { for i in 0..<shape[0] {
            var s = 0.0
            for (a, wa) in g.enumerated() { for (b, wb) in g.enumerated() { for (c, wc) in g.enumerated() {
                s += wa * wb * wc * at(i + a - radius, j + b - radius, k + c - radius)
            } } }
            #expect(abs(Double(fast[i + shape[0] * (j + shape[1] * k)]) - s / (norm * norm * norm)) < 1e-3)
        } } }
    }

    @Test func componentsAreFaceConnectedAndSortedBySize() {
        var m = Volume<UInt8>(shape: [8, 8, 3], repeating: 0, affine: .identity)
        for i in 0..<3 { for j in 0..<3 { m[i, j, 0] = 1 } }  // 9 voxels
        m[5, 5, 1] = 1; m[6, 6, 1] = 1                          // diagonal neighbours: two components
        for i in 4..<8 { m[i, 0, 2] = 1 }                       // 4 voxels
        let c = ConnectedComponents(m)
        #expect(c.sizes == [9, 4, 1, 1])
        #expect(c.labels[m.index(1, 1, 0)] == 1 && c.labels[m.index(7, 0, 2)] == 2)
        #expect(c.labels[m.index(5, 5, 1)] != c.labels[m.index(6, 6, 1)])
        #expect(c.largest(2, shape: m.shape, affine: .identity).voxels.reduce(0) { $0 + Int($1) } == 13)
    }

    @Test func holeFillingClosesCavitiesButNotChannelsToTheBorder() {
        var m = Volume<UInt8>(shape: [9, 9, 9], repeating: 0, affine: .identity)
        for k in 1..<8 { for j in 1..<8 { for i in 1..<8 where i == 1 || i == 7 || j == 1 || j == 7 || k == 1 || k == 7 { m[i, j, k] = 1 } } }
        let filled = Morphology.fillHoles(m)
        #expect(filled[4, 4, 4] == 1 && filled[0, 0, 0] == 0)
        #expect(filled.voxels.reduce(0) { $0 + Int($1) } == 7 * 7 * 7)
        // A tube running through every slice (touching the top and bottom faces) is open to the outside.
        var tube = Volume<UInt8>(shape: [7, 7, 5], repeating: 0, affine: .identity)
        for k in 0..<5 { for j in 1..<6 { for i in 1..<6 where i == 1 || i == 5 || j == 1 || j == 5 { tube[i, j, k] = 1 } } }
        #expect(Morphology.fillHoles(tube)[3, 3, 2] == 0)
    }
}

@Suite struct SelectionTests {
    @Test func quickselectAgreesWithSorting() {
        var state: UInt64 = 11
        for n in [1, 2, 3, 10, 101, 1000] {
            let values: [Float] = (0..<n).map { _ in state = state &* 6364136223846793005 &+ 1; return Float(state >> 54) }  // many ties
            let sorted = values.sorted()
            for k in Set([0, n / 2, n - 1, n / 3]) {
                var copy = values
                #expect(select(&copy, k) == sorted[k])
            }
            let m = n / 2
            #expect(median(values) == (n % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2))
            #expect(quantile(values, 0.99) == sorted[max(1, Int((0.99 * Double(n)).rounded(.up))) - 1])
            #expect(quantile(values, 0) == sorted[0])
        }
    }
}
