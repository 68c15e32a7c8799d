import LegSegDNNL
import LegSegEngine
@testable import LegSegTraining
import Testing

/// Finite-difference checks of every differentiable op's pullback (f32 forward, double-precision sums).
@Suite("Gradient checks")
struct GradientCheckTests {
    func expectPasses(_ check: GradientCheck, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(check.checked > 0, "\(what): nothing checked", sourceLocation: sourceLocation)
        #expect(check.worst <= 1, "\(what): \(check)", sourceLocation: sourceLocation)
    }

    @Test func convolution3DStridedDilated() throws {
        let g = ConvolutionGeometry(kernel: [3, 3, 2], stride: [1, 2, 1], padding: [1, 1, 0], dilation: [1, 1, 2])
        let check = try checkGradients([CheckInput(randomTensor([2, 3, 4, 5, 6], seed: 1)),
                                        CheckInput(randomTensor([5, 3, 3, 3, 2], seed: 2, scale: 0.3), .convolutionWeight),
                                        CheckInput(randomTensor([5], seed: 3), .vector)]) { tape, v in
            try tape.convolution(v[0], weight: v[1], bias: v[2], geometry: g)
        }
        expectPasses(check, "conv3d")
    }

    @Test func convolution2D() throws {
        let check = try checkGradients([CheckInput(randomTensor([2, 2, 7, 6], seed: 4)),
                                        CheckInput(randomTensor([3, 2, 3, 3], seed: 5, scale: 0.3), .convolutionWeight),
                                        CheckInput(randomTensor([3], seed: 6), .vector)]) { tape, v in
            try tape.convolution(v[0], weight: v[1], bias: v[2], geometry: .same(kernel: 3, rank: 2))
        }
        expectPasses(check, "conv2d")
    }

    @Test func transposedConvolution() throws {
        let g = ConvolutionGeometry(kernel: [3, 2, 3], stride: [2, 2, 1], padding: [1, 0, 1], outputPadding: [1, 0, 0])
        let check = try checkGradients([CheckInput(randomTensor([2, 3, 3, 3, 4], seed: 7)),
                                        CheckInput(randomTensor([3, 4, 3, 2, 3], seed: 8, scale: 0.3), .transposedConvolutionWeight),
                                        CheckInput(randomTensor([4], seed: 9), .vector)]) { tape, v in
            try tape.transposedConvolution(v[0], weight: v[1], weightShape: [3, 4, 3, 2, 3], bias: v[2], geometry: g)
        }
        expectPasses(check, "deconv3d")
    }

    @Test func denseFrom4D() throws {
        let check = try checkGradients([CheckInput(randomTensor([3, 2, 3, 2], seed: 10)),
                                        CheckInput(randomTensor([5, 12], seed: 11, scale: 0.3), .denseWeight),
                                        CheckInput(randomTensor([5], seed: 12), .vector)]) { tape, v in
            try tape.dense(v[0], weight: v[1], bias: v[2])
        }
        expectPasses(check, "dense")
    }

    @Test func batchNormalizationTraining() throws {
        var x = randomTensor([3, 4, 2, 3, 3], seed: 13)
        for i in x.data.indices { x.data[i] = x.data[i] * 2 + 1 }
        let mean = HostTensor(zeros: [4]), variance = try HostTensor(shape: [4], data: [1, 1, 1, 1])
        let check = try checkGradients([CheckInput(x), CheckInput(randomTensor([4], seed: 14), .vector),
                                        CheckInput(randomTensor([4], seed: 15), .vector)], step: 5e-3) { tape, v in
            let m = try tape.backend.upload(mean, role: .vector, precision: .f32)
            let s = try tape.backend.upload(variance, role: .vector, precision: .f32)
            return try tape.batchNormalization(v[0], scale: v[1], shift: v[2], mean: m, variance: s, epsilon: 1e-3)
        }
        expectPasses(check, "batch norm")
    }

    @Test(arguments: [Activation.relu, .leakyRelu(negativeSlope: 0.1), .elu(alpha: 1), .gelu, .sigmoid, .tanh])
    func activation(_ activation: Activation) throws {
        // Values kept away from the kinks of ReLU-like functions so differences are one-sided-free.
        var x = randomTensor([2, 3, 4, 5], seed: 16)
        for i in x.data.indices where abs(x.data[i]) < 0.05 { x.data[i] += 0.1 }
        let check = try checkGradients([CheckInput(x)], step: 1e-2) { tape, v in try tape.activation(v[0], activation) }
        expectPasses(check, activation.name)
    }

    @Test func softmax() throws {
        let check = try checkGradients([CheckInput(randomTensor([2, 4, 3, 3], seed: 17))]) { tape, v in
            try tape.softmaxOverChannels(v[0])
        }
        expectPasses(check, "softmax")
    }

    @Test func maxPooling() throws {
        // Distinct values 0.02 apart, shuffled, so no ±h step changes which element is a window's maximum.
        var x = HostTensor(zeros: [2, 3, 6, 7])
        var rng = SplitMix64(seed: 18)
        var values = (0..<x.count).map { Float($0) * 0.02 - 2.5 }
        values.shuffle(using: &rng)
        x.data = values
        let check = try checkGradients([CheckInput(x)], step: 1e-3) { tape, v in
            try tape.pooling(v[0], geometry: PoolingGeometry(kind: .max, kernel: [2, 3], stride: [2, 2], padding: [1, 1]))
        }
        expectPasses(check, "max pool")
    }

    @Test func averagePoolingWithPadding() throws {
        let check = try checkGradients([CheckInput(randomTensor([2, 2, 4, 5, 6], seed: 19))]) { tape, v in
            try tape.pooling(v[0], geometry: PoolingGeometry(kind: .average, kernel: [2, 3, 3], stride: [2, 2, 2], padding: [0, 1, 1]))
        }
        expectPasses(check, "average pool")
    }

    @Test func globalAveragePooling() throws {
        let check = try checkGradients([CheckInput(randomTensor([2, 3, 3, 4, 5], seed: 20))]) { tape, v in
            try tape.globalAveragePooling(v[0])
        }
        expectPasses(check, "global average pool")
    }

    @Test(arguments: [UpsamplingMode.nearest, .linear])
    func upsample(_ mode: UpsamplingMode) throws {
        let check = try checkGradients([CheckInput(randomTensor([2, 3, 2, 3, 4], seed: 21))]) { tape, v in
            try tape.upsample(v[0], factors: [1, 2, 2], mode: mode)
        }
        expectPasses(check, "upsample \(mode)")
    }

    @Test func concatenateAndAdd() throws {
        let check = try checkGradients([CheckInput(randomTensor([2, 3, 3, 4, 4], seed: 22)),
                                        CheckInput(randomTensor([2, 5, 3, 4, 4], seed: 23)),
                                        CheckInput(randomTensor([2, 8, 3, 4, 4], seed: 24))]) { tape, v in
            // a used twice: its gradient is the sum of both paths.
            let c = try tape.concatenateChannels([v[0], v[1]])
            let s = try tape.add(c, v[2])
            return try tape.concatenateChannels([s, v[0]])
        }
        expectPasses(check, "concatenate + add")
    }

    @Test func dropoutTrainingMask() throws {
        let check = try checkGradients([CheckInput(randomTensor([2, 3, 4, 4], seed: 25))]) { tape, v in
            try tape.dropout(v[0], rate: 0.3)
        }
        expectPasses(check, "dropout")
    }

    /// The mask drops the requested fraction (binomial: 100 003 values, ±4.5 σ) and scales the kept values by
    /// 1/(1−p); two tapes with the same seed draw the same mask, different seeds different ones.
    @Test func dropoutRateAndScale() throws {
        let backend = try DNNLBackend()
        let ones = try HostTensor(shape: [1, 1, 100_003], data: [Float](repeating: 1, count: 100_003))
        func mask(seed: UInt64) throws -> [Float] {
            let tape = Tape(backend: backend, training: true, seed: seed)
            return try backend.download(try tape.dropout(tape.constant(try backend.upload(ones, role: .activation, precision: .f32)),
                                                         rate: 0.3).value).data
        }
        let m = try mask(seed: 5)
        let dropped = Double(m.filter { $0 == 0 }.count) / Double(m.count)
        let sigma = (0.3 * 0.7 / Double(m.count)).squareRoot()
        #expect(abs(dropped - 0.3) < 4.5 * sigma, "dropped fraction \(dropped)")
        #expect(m.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        #expect(try mask(seed: 5) == m)
        #expect(try mask(seed: 6) != m)
    }

    /// A whole small UNet (batch norm, GELU, down/up-sampling, dropout off), gradient of input and weights.
    /// Instance norm: per sample statistics, so batch samples with different offsets and scales must not mix.
    @Test func instanceNormalization() throws {
        var x = randomTensor([2, 3, 2, 3, 4], seed: 16)
        for i in x.data.indices { x.data[i] = x.data[i] * (i < 72 ? 2 : 0.5) + (i < 72 ? 1 : -3) }
        let check = try checkGradients([CheckInput(x), CheckInput(randomTensor([3], seed: 17), .vector),
                                        CheckInput(randomTensor([3], seed: 18), .vector)], step: 5e-3) { tape, v in
            try tape.instanceNormalization(v[0], scale: v[1], shift: v[2], epsilon: 1e-3)
        }
        expectPasses(check, "instance norm")
    }

    @Test(arguments: [NormalizationKind.batch, .instance])
    func tinyUNetEndToEnd(_ normalization: NormalizationKind) throws {
        let config = UNetConfiguration(dimensions: 3, inputChannels: 1, classes: 3, depth: 2, baseFeatures: 4,
                                       startFeatures: 2, downsampling: [[1, 2, 2]], activation: .gelu,
                                       normalization: normalization, dropout: 0)
        let params = TrainableNetwork.initialParameters(config, seed: 3)
        let net = try TrainableUNet(configuration: config, parameters: params)
        let w = params["encoder.1.block.conv.0.weight"]!, b = params["decoder.0.block.shortcut.bias"]!
        let check = try checkGradients([CheckInput(randomTensor([2, 1, 2, 4, 4], seed: 26)),
                                        CheckInput(w, .convolutionWeight), CheckInput(b, .vector)],
                                       step: 1e-2, maxPerInput: 16) { tape, v in
            // Two tensors come from the check's variables, the rest from the network's own upload.
            try net.forward(tape, input: v[0], overriding: ["encoder.1.block.conv.0.weight": v[1],
                                                            "decoder.0.block.shortcut.bias": v[2]])
        }
        expectPasses(check, "tiny UNet (\(normalization))")
    }

    /// The trainable UNet with instance norm computes what the inference UNet computes (which is checked against
    /// PyTorch in LegSegEngineTests), for a batch of two different samples.
    @Test func instanceNormUNetMatchesTheInferenceNetwork() throws {
        let config = UNetConfiguration(dimensions: 3, inputChannels: 1, classes: 3, depth: 2, baseFeatures: 4,
                                       startFeatures: 2, downsampling: [[1, 2, 2]], activation: .elu(alpha: 1),
                                       normalization: .instance, dropout: 0)
        var params = TrainableNetwork.initialParameters(config, seed: 7)
        for (name, t) in params where name.contains("norm") {
            params[name] = try HostTensor(shape: t.shape, data: randomTensor(t.shape, seed: UInt64(name.count), scale: 0.5).data.map { $0 + (name.hasSuffix("weight") ? 1 : 0) })
        }
        let backend = try DNNLBackend()
        var x = randomTensor([2, 1, 4, 8, 8], seed: 8)
        for i in 256..<512 { x.data[i] = x.data[i] * 3 + 2 }
        let trainable = try TrainableUNet(configuration: config, parameters: params)
        let y = try backend.download(try trainable.forward(Tape(backend: backend, training: false),
                                                           input: try backend.upload(x, role: .activation, precision: .f32)).value)
        let z = try UNet(configuration: config, weights: params, backend: backend, precision: .f32).predict(x)
        #expect(maxDifference(y, z) < 1e-5, "max difference \(maxDifference(y, z))")
    }
}
