/// The segmentation UNet of segmentdata-spec §3 with residual blocks, built with the consistent down/up
/// schedule of §3.5: no down-sampling into level 0, one down-sampling per transition between levels, each
/// mirrored by one up-sampling.
///
/// Features per level `F_i = baseFeatures · featureGrowth^i`; the 1×1 start convolution has `startFeatures`
/// channels (default `baseFeatures / 2`). Spatial axes are `(z, y, x)` (3D) or `(y, x)` (2D).
public struct UNetConfiguration: Codable, Hashable, Sendable, NetworkArchitecture {
    public var dimensions: Int
    public var inputChannels: Int
    public var classes: Int
    public var depth: Int
    public var baseFeatures: Int
    public var featureGrowth: Int
    public var startFeatures: Int
    /// Down-sampling factors for the `depth − 1` transitions, one entry per spatial axis.
    public var downsampling: [[Int]]
    /// Residual block type; only "resnet" (spec §3.2) is implemented.
    public var block: String
    /// Convolutions on each block's main path (spec default 2).
    public var blockRepetitions: Int
    public var activation: Activation
    public var normalization: NormalizationKind
    public var normEpsilon: Float
    /// Dropout after every block in training; identity at inference.
    public var dropout: Float
    /// Resize used before each up-sampling convolution ("nearest" in the spec; "linear" = trilinear).
    public var upsampling: UpsamplingMode

    public init(dimensions: Int = 3, inputChannels: Int = 1, classes: Int, depth: Int = 5, baseFeatures: Int = 32,
                featureGrowth: Int = 2, startFeatures: Int? = nil, downsampling: [[Int]]? = nil,
                blockRepetitions: Int = 2, activation: Activation = .gelu, normalization: NormalizationKind = .batch,
                normEpsilon: Float = 0.001, dropout: Float = 0.2, upsampling: UpsamplingMode = .nearest) {
        self.dimensions = dimensions
        self.inputChannels = inputChannels
        self.classes = classes
        self.depth = depth
        self.baseFeatures = baseFeatures
        self.featureGrowth = featureGrowth
        self.startFeatures = startFeatures ?? max(1, baseFeatures / 2)
        self.downsampling = downsampling ?? Array(repeating: Array(repeating: 2, count: dimensions), count: max(0, depth - 1))
        self.block = "resnet"
        self.blockRepetitions = blockRepetitions
        self.activation = activation
        self.normalization = normalization
        self.normEpsilon = normEpsilon
        self.dropout = dropout
        self.upsampling = upsampling
    }

    /// The spec's default thigh network: base 32, depth 5, batch norm, GELU, schedule (1,2,2),(2,2,2)×3
    /// (≈ 18.0 M parameters with 22 classes).
    public static func specDefault(classes: Int = 22) -> UNetConfiguration {
        UNetConfiguration(classes: classes, downsampling: [[1, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2]])
    }

    /// Features at level `i` (0-based).
    public func features(level i: Int) -> Int {
        var f = baseFeatures
        for _ in 0..<i { f *= featureGrowth }
        return f
    }

    /// Product of the down-sampling factors per axis: input sizes must be multiples of it.
    public var step: [Int] {
        var s = Array(repeating: 1, count: dimensions)
        for factors in downsampling { for a in 0..<dimensions where a < factors.count { s[a] *= factors[a] } }
        return s
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dimensions, inputChannels, classes, depth, baseFeatures, featureGrowth, startFeatures, downsampling,
             block, blockRepetitions, activation, activationParameter, normalization, normEpsilon, dropout, upsampling
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue) + ["type"]), what: "UNet")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let dimensions = try c.decodeIfPresent(Int.self, forKey: .dimensions) ?? 3
        let base = try c.decodeIfPresent(Int.self, forKey: .baseFeatures) ?? 32
        let depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? 5
        let activationName = try c.decodeIfPresent(String.self, forKey: .activation) ?? "gelu"
        let activationParameter = try c.decodeIfPresent(Float.self, forKey: .activationParameter)
        let activation: Activation
        do { activation = try Activation(name: activationName, parameter: activationParameter) } catch {
            throw DecodingError.dataCorruptedError(forKey: .activation, in: c, debugDescription: "\(error)")
        }
        let normName = try c.decodeIfPresent(String.self, forKey: .normalization) ?? "batch"
        guard let norm = NormalizationKind(rawValue: normName.lowercased()) else {
            throw DecodingError.dataCorruptedError(forKey: .normalization, in: c,
                debugDescription: "unknown normalization \"\(normName)\" (known: batch, instance, none)")
        }
        let upName = try c.decodeIfPresent(String.self, forKey: .upsampling) ?? "nearest"
        guard let up = UpsamplingMode(rawValue: upName) else {
            throw DecodingError.dataCorruptedError(forKey: .upsampling, in: c,
                debugDescription: "unknown upsampling \"\(upName)\" (known: nearest, linear)")
        }
        self.init(dimensions: dimensions,
                  inputChannels: try c.decodeIfPresent(Int.self, forKey: .inputChannels) ?? 1,
                  classes: try c.decode(Int.self, forKey: .classes),
                  depth: depth, baseFeatures: base,
                  featureGrowth: try c.decodeIfPresent(Int.self, forKey: .featureGrowth) ?? 2,
                  startFeatures: try c.decodeIfPresent(Int.self, forKey: .startFeatures),
                  downsampling: try c.decodeIfPresent([[Int]].self, forKey: .downsampling),
                  blockRepetitions: try c.decodeIfPresent(Int.self, forKey: .blockRepetitions) ?? 2,
                  activation: activation, normalization: norm,
                  normEpsilon: try c.decodeIfPresent(Float.self, forKey: .normEpsilon) ?? 0.001,
                  dropout: try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0.2,
                  upsampling: up)
        let block = try c.decodeIfPresent(String.self, forKey: .block) ?? "resnet"
        guard block.lowercased() == "resnet" else {
            throw DecodingError.dataCorruptedError(forKey: .block, in: c,
                debugDescription: "unknown block type \"\(block)\" (implemented: resnet)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dimensions, forKey: .dimensions)
        try c.encode(inputChannels, forKey: .inputChannels)
        try c.encode(classes, forKey: .classes)
        try c.encode(depth, forKey: .depth)
        try c.encode(baseFeatures, forKey: .baseFeatures)
        try c.encode(featureGrowth, forKey: .featureGrowth)
        try c.encode(startFeatures, forKey: .startFeatures)
        try c.encode(downsampling, forKey: .downsampling)
        try c.encode(block, forKey: .block)
        try c.encode(blockRepetitions, forKey: .blockRepetitions)
        try c.encode(activation.name, forKey: .activation)
        try c.encodeIfPresent(activation.parameter, forKey: .activationParameter)
        try c.encode(normalization.rawValue, forKey: .normalization)
        try c.encode(normEpsilon, forKey: .normEpsilon)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(upsampling.rawValue, forKey: .upsampling)
    }

    public func validate(file: String) throws {
        func fail(_ p: String) -> EngineError { .modelFile(file: file, problem: "architecture: \(p)") }
        guard dimensions == 2 || dimensions == 3 else { throw fail("dimensions must be 2 or 3, not \(dimensions)") }
        guard depth >= 1 && depth <= 8 else { throw fail("depth must be 1…8, not \(depth)") }
        guard inputChannels >= 1, classes >= 1, baseFeatures >= 2, featureGrowth >= 1, startFeatures >= 1 else {
            throw fail("inputChannels, classes, startFeatures ≥ 1, baseFeatures ≥ 2 and featureGrowth ≥ 1 are required")
        }
        guard blockRepetitions >= 1 else { throw fail("blockRepetitions must be ≥ 1") }
        guard downsampling.count == depth - 1 else {
            throw fail("downsampling has \(downsampling.count) entries; depth \(depth) needs \(depth - 1)")
        }
        for (i, f) in downsampling.enumerated() where f.count != dimensions || f.contains(where: { $0 < 1 || $0 > 4 }) {
            throw fail("downsampling entry \(i) is \(f); it needs \(dimensions) factors in 1…4")
        }
        guard dropout >= 0 && dropout < 1, normEpsilon > 0 else { throw fail("dropout must be in [0, 1) and normEpsilon > 0") }
    }

    /// Channels of the main-path convolutions of a block with `features` outputs.
    func blockWidths(features: Int) -> [Int] {
        (0..<blockRepetitions).map { $0 == blockRepetitions - 1 ? features : max(1, features / 2) }
    }

    func blockSpecs(_ prefix: String, input: Int, features: Int) -> [ParameterSpec] {
        let k = Array(repeating: 3, count: dimensions)
        let one = Array(repeating: 1, count: dimensions)
        var specs: [ParameterSpec] = []
        var channels = input
        for (j, width) in blockWidths(features: features).enumerated() {
            specs += layerSpecs("\(prefix).conv.\(j)", weight: [width, channels] + k, norm: normalization,
                                normPrefix: "\(prefix).norm.\(j)", channels: width)
            channels = width
        }
        specs += layerSpecs("\(prefix).shortcut", weight: [features, input] + one, norm: normalization,
                            normPrefix: "\(prefix).shortcut_norm", channels: features)
        return specs
    }

    public func parameterSpecs() -> [ParameterSpec] {
        let k = Array(repeating: 3, count: dimensions)
        let one = Array(repeating: 1, count: dimensions)
        var specs = layerSpecs("start", weight: [startFeatures, inputChannels] + one, norm: .none, normPrefix: "", channels: 0)
        for i in 0..<depth {
            let input = i == 0 ? startFeatures : features(level: i - 1)
            if i > 0 {
                specs += layerSpecs("encoder.\(i).down", weight: [input, input] + k, norm: .none, normPrefix: "", channels: 0)
            }
            specs += blockSpecs("encoder.\(i).block", input: input, features: features(level: i))
        }
        for i in (0..<max(0, depth - 1)).reversed() {
            specs += layerSpecs("decoder.\(i).up", weight: [features(level: i), features(level: i + 1)] + k,
                                norm: .none, normPrefix: "", channels: 0)
            specs += blockSpecs("decoder.\(i).block", input: 2 * features(level: i), features: features(level: i))
        }
        specs += layerSpecs("map", weight: [classes, features(level: 0)] + one, norm: .none, normPrefix: "", channels: 0)
        return specs
    }

    /// Multiply-adds ×2 of every convolution for one input of the given spatial size (batch 1).
    public func forwardFLOPs(spatial: [Int]) throws -> Double {
        guard spatial.count == dimensions else { throw EngineError.shape("UNet: patch \(spatial) has \(spatial.count) axes, the network \(dimensions)") }
        try checkPatch(spatial)
        let k3 = Double(Array(repeating: 3, count: dimensions).reduce(1, *))
        var sizes: [Double] = []
        var s = spatial
        for i in 0..<depth {
            if i > 0 { s = zip(s, downsampling[i - 1]).map { $0 / $1 } }
            sizes.append(Double(s.reduce(1, *)))
        }
        func block(_ input: Int, _ features: Int, _ voxels: Double) -> Double {
            var total = 0.0
            var c = input
            for w in blockWidths(features: features) { total += 2 * Double(c * w) * k3 * voxels; c = w }
            return total + 2 * Double(input * features) * voxels
        }
        var flops = 2 * Double(inputChannels * startFeatures) * sizes[0]
        for i in 0..<depth {
            let input = i == 0 ? startFeatures : features(level: i - 1)
            if i > 0 { flops += 2 * Double(input * input) * k3 * sizes[i] }
            flops += block(input, features(level: i), sizes[i])
        }
        for i in 0..<max(0, depth - 1) {
            flops += 2 * Double(features(level: i + 1) * features(level: i)) * k3 * sizes[i]
            flops += block(2 * features(level: i), features(level: i), sizes[i])
        }
        flops += 2 * Double(features(level: 0) * classes) * sizes[0]
        return flops
    }

    /// Throws unless every spatial size is a positive multiple of `step`.
    public func checkPatch(_ spatial: [Int]) throws {
        guard spatial.count == dimensions else {
            throw EngineError.shape("UNet: input has \(spatial.count) spatial axes, the network \(dimensions)")
        }
        let step = self.step
        for a in 0..<dimensions where spatial[a] < 1 || spatial[a] % step[a] != 0 {
            throw EngineError.shape("UNet: input size \(spatial) is not a multiple of the network's step \(step)")
        }
    }
}
