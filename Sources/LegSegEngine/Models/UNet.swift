/// The segmentation UNet (see `UNetConfiguration`) prepared on a backend in one precision.
/// `forward` returns class probabilities (softmax over channels), `[N, classes, spatial...]`.
public final class UNet {
    public let configuration: UNetConfiguration
    public let precision: Precision
    public let backend: any Backend

    /// Residual block of spec §3.2: main path of `blockRepetitions` conv units, 1×1 shortcut, sum.
    final class ResidualBlock {
        let main: [ConvUnit]
        let shortcut: ConvUnit
        init(_ prefix: String, config: UNetConfiguration, backend: any Backend, precision: Precision,
             weights: [String: HostTensor]) throws {
            let rank = config.dimensions
            main = try (0..<config.blockRepetitions).map { j in
                try ConvUnit(backend: backend, precision: precision, kind: .convolution(.same(kernel: 3, rank: rank)),
                             prefix: "\(prefix).conv.\(j)", weights: weights,
                             norm: try NormParameters(kind: config.normalization, prefix: "\(prefix).norm.\(j)",
                                                      weights: weights, epsilon: config.normEpsilon),
                             activation: config.activation)
            }
            shortcut = try ConvUnit(backend: backend, precision: precision, kind: .convolution(.same(kernel: 1, rank: rank)),
                                    prefix: "\(prefix).shortcut", weights: weights,
                                    norm: try NormParameters(kind: config.normalization, prefix: "\(prefix).shortcut_norm",
                                                             weights: weights, epsilon: config.normEpsilon),
                                    activation: .identity)
        }
        func callAsFunction(_ x: any DeviceTensor) throws -> any DeviceTensor {
            let skip = try shortcut(x)
            var h = x
            for unit in main.dropLast() { h = try unit(h) }
            return try main.last!(h, residual: skip)
        }
    }

    /// The decoder's up-sampling and 3×3×3 convolution: polyphase (`UpsampledConvolution`) where it applies,
    /// otherwise the two steps; the result follows the skip connection's channels.
    final class UpConvolution {
        let factors: [Int]
        let mode: UpsamplingMode
        let plain: ConvUnit?
        let phases: [ConvUnit]

        init(prefix: String, factors: [Int], mode: UpsamplingMode, backend: any Backend, precision: Precision,
             weights: [String: HostTensor]) throws {
            self.factors = factors
            self.mode = mode
            let none = NormParameters.none(), rank = factors.count
            guard UpsampledConvolution.applies(factors: factors, mode: mode, kernel: Array(repeating: 3, count: rank)),
                  let w = weights["\(prefix).weight"] else {
                plain = try ConvUnit(backend: backend, precision: precision, kind: .convolution(.same(kernel: 3, rank: rank)),
                                     prefix: prefix, weights: weights, norm: none, activation: .identity)
                phases = []
                return
            }
            plain = nil
            phases = try UpsampledConvolution.phaseWeights(w, factors: factors).map { geometry, weight in
                var phaseWeights = weights
                phaseWeights["\(prefix).weight"] = weight
                return try ConvUnit(backend: backend, precision: precision, kind: .convolution(geometry), prefix: prefix,
                                    weights: phaseWeights, norm: none, activation: .identity)
            }
        }

        func callAsFunction(_ x: any DeviceTensor, after skip: any DeviceTensor) throws -> any DeviceTensor {
            if let plain {
                let backend = plain.backend
                return try backend.concatenateChannels([skip, try plain(try backend.upsample(x, factors: factors, mode: mode))])
            }
            return try phases[0].backend.interleave(try phases.map { try $0(x) }, factors: factors, after: [skip])
        }
    }

    /// The 1×1 start convolution, or nil where it is composed into encoder block 0 (`StartComposition`).
    let start: ConvUnit?
    /// The composed block's ones channel, kept between calls.
    private var onesChannel: (any DeviceTensor)?
    let down: [ConvUnit?]
    let encoder: [ResidualBlock]
    let up: [UpConvolution]
    let decoder: [ResidualBlock]
    let map: ConvUnit

    /// Prepares the network: folds batch norm, converts weights to `precision` and uploads them.
    /// `weights` must hold exactly `configuration.parameterSpecs()` (as `ModelFile` guarantees).
    public convenience init(configuration: UNetConfiguration, weights: [String: HostTensor], backend: any Backend,
                            precision: Precision) throws {
        try self.init(configuration: configuration, weights: weights, backend: backend, precision: precision,
                      composeStart: StartComposition.applies(configuration))
    }

    /// `composeStart` chooses `StartComposition` explicitly (tests compare both forms).
    init(configuration: UNetConfiguration, weights: [String: HostTensor], backend: any Backend,
         precision: Precision, composeStart: Bool) throws {
        try configuration.validate(file: "UNet")
        self.configuration = configuration
        self.precision = precision
        self.backend = backend
        let rank = configuration.dimensions
        let none = NormParameters.none()
        func plain(_ prefix: String, _ geometry: ConvolutionGeometry) throws -> ConvUnit {
            try ConvUnit(backend: backend, precision: precision, kind: .convolution(geometry), prefix: prefix,
                         weights: weights, norm: none, activation: .identity)
        }
        start = composeStart ? nil : try plain("start", .same(kernel: 1, rank: rank))
        let blockZeroWeights = composeStart ? try StartComposition.composedWeights(weights) : weights
        down = try (0..<configuration.depth).map { i in
            guard i > 0 else { return nil }
            let g = ConvolutionGeometry(kernel: Array(repeating: 3, count: rank), stride: configuration.downsampling[i - 1],
                                        padding: Array(repeating: 1, count: rank))
            return try plain("encoder.\(i).down", g)
        }
        encoder = try (0..<configuration.depth).map {
            try ResidualBlock("encoder.\($0).block", config: configuration, backend: backend, precision: precision,
                              weights: $0 == 0 ? blockZeroWeights : weights)
        }
        up = try (0..<max(0, configuration.depth - 1)).map { i in
            try UpConvolution(prefix: "decoder.\(i).up", factors: configuration.downsampling[i], mode: configuration.upsampling,
                              backend: backend, precision: precision, weights: weights)
        }
        decoder = try (0..<max(0, configuration.depth - 1)).map {
            try ResidualBlock("decoder.\($0).block", config: configuration, backend: backend, precision: precision, weights: weights)
        }
        map = try plain("map", .same(kernel: 1, rank: rank))
    }

    /// Class probabilities for `input` `[N, inputChannels, spatial...]`, already on the backend.
    public func forward(_ input: any DeviceTensor) throws -> any DeviceTensor {
        let c = configuration
        guard input.shape.count == c.dimensions + 2, input.shape[1] == c.inputChannels else {
            throw EngineError.shape("UNet: input shape \(input.shape) should be [N, \(c.inputChannels), \(c.dimensions) spatial axes]")
        }
        try c.checkPatch(Array(input.shape.dropFirst(2)))
        var x: any DeviceTensor
        if let start {
            x = try start(input)
        } else {
            (x, onesChannel) = try StartComposition.withOnesChannel(input, ones: onesChannel, backend: backend)
        }
        var skips: [any DeviceTensor] = []
        for i in 0..<c.depth {
            if let d = down[i] { x = try d(x) }
            x = backend.dropout(try encoder[i](x), rate: c.dropout)
            if i < c.depth - 1 { skips.append(x) }
        }
        for i in (0..<max(0, c.depth - 1)).reversed() {
            x = try up[i](x, after: skips[i])
            skips.removeLast()
            x = backend.dropout(try decoder[i](x), rate: c.dropout)
        }
        // As PyTorch's autocast: the logits in the network's precision, the softmax computed and written in f32
        // (reading bf16 logits halves the map layer's writes and the softmax's reads).
        return try backend.softmaxOverChannels(try map(x), precision: .f32)
    }

    /// Uploads `input`, runs `forward` and downloads the probabilities as f32.
    public func predict(_ input: HostTensor) throws -> HostTensor {
        try backend.download(try forward(try backend.upload(input, role: .activation, precision: precision)))
    }
}
