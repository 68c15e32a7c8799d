import Foundation
@testable import LegSegEngine
import LegSegDNNL
import Testing

/// The start convolution composed into encoder block 0 (`StartComposition`) against the network run as written:
/// start 1×1 map, then the block. Random weights everywhere (biases, batch-norm statistics and the start bias
/// included), so a dropped bias channel or a wrong padding value shows at the borders and inside.
@Suite struct StartCompositionTests {
    static let configurations: [(String, UNetConfiguration)] = [
        ("3d batch gelu", UNetConfiguration(classes: 3, depth: 2, baseFeatures: 8, downsampling: [[1, 2, 2]])),
        ("3d instance elu, 2 inputs", UNetConfiguration(inputChannels: 2, classes: 4, depth: 2, baseFeatures: 6, startFeatures: 5,
                                                        downsampling: [[2, 2, 1]], activation: .elu(alpha: 1), normalization: .instance)),
        ("2d no norm", UNetConfiguration(dimensions: 2, classes: 5, depth: 3, baseFeatures: 4, normalization: .none)),
    ]

    static func randomWeights(_ c: UNetConfiguration, seed: UInt64) -> [String: HostTensor] {
        var rng = SplitMix64(seed: seed)
        var weights = TrainableNetwork.initialParameters(c, seed: seed)
        for (name, t) in weights {
            var r = t
            for i in r.data.indices {
                let u = Float(rng.uniform())
                r.data[i] = name.hasSuffix("running_var") ? 0.5 + u : (u - 0.5) * (name.hasSuffix(".weight") ? 0.6 : 1)
            }
            weights[name] = r
        }
        return weights
    }

    @Test("composed and written forms give the same probabilities", arguments: configurations.indices)
    func composedEqualsWritten(index: Int) throws {
        let (name, c) = Self.configurations[index]
        #expect(StartComposition.applies(c), "\(name): composition should apply (Cin + 1 ≤ startFeatures)")
        let backend = try makeBackend()
        let weights = Self.randomWeights(c, seed: 7 + UInt64(index))
        let spatial = c.dimensions == 3 ? [4, 8, 6] : [8, 12]
        var rng = SplitMix64(seed: 99)
        var x = HostTensor(zeros: [2, c.inputChannels] + spatial)
        for i in x.data.indices { x.data[i] = Float(rng.uniform() * 4 - 2) }
        let written = try UNet(configuration: c, weights: weights, backend: backend, precision: .f32, composeStart: false)
        let composed = try UNet(configuration: c, weights: weights, backend: backend, precision: .f32, composeStart: true)
        #expect(written.start != nil && composed.start == nil)
        let expected = try written.predict(x)
        let actual = try composed.predict(x)
        expectClose(actual, expected, tolerance: 2e-6, name)
        // The comparison can fail: the ones channel carries the start bias, and a changed bias moves the result.
        var shifted = weights
        shifted["start.bias"]!.data = shifted["start.bias"]!.data.map { $0 + 2 }
        let moved = try UNet(configuration: c, weights: shifted, backend: backend, precision: .f32, composeStart: true).predict(x)
        #expect(zip(moved.data, expected.data).map { abs($0 - $1) }.max()! > 1e-4, "\(name): start bias has no effect (50× the tolerance)")
    }

    @Test("composition is skipped where the composed input would be wider than the start's output")
    func skippedWhenWider() throws {
        let c = UNetConfiguration(inputChannels: 3, classes: 2, depth: 1, baseFeatures: 6, startFeatures: 3)
        #expect(!StartComposition.applies(c))
        let unet = try UNet(configuration: c, weights: Self.randomWeights(c, seed: 3), backend: try makeBackend(), precision: .f32)
        #expect(unet.start != nil)
    }
}
