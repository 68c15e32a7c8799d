/// The per-slice classifier of segmentdata-spec §2.2: a 2D convolutional trunk (conv → norm → activation →
/// max pooling per stage), flattened, then one dense head per output ("side", "position"), each a stack of
/// dense → norm → activation layers and a final dense layer with softmax.
public struct SliceClassifierConfiguration: Codable, Hashable, Sendable, NetworkArchitecture {
    public struct Stage: Codable, Hashable, Sendable {
        public var features: Int
        public var kernel: Int
        /// Max-pooling window (= stride) after the stage; 1 for none.
        public var pool: Int
        public init(features: Int, kernel: Int, pool: Int) {
            self.features = features
            self.kernel = kernel
            self.pool = pool
        }
    }

    public struct Head: Codable, Hashable, Sendable {
        public var name: String
        public var classes: [String]
        public init(name: String, classes: [String]) {
            self.name = name
            self.classes = classes
        }
    }

    public var imageSize: [Int]
    public var inputChannels: Int
    public var stages: [Stage]
    public var headWidths: [Int]
    public var heads: [Head]
    public var activation: Activation
    public var normalization: NormalizationKind
    public var normEpsilon: Float

    public init(imageSize: [Int] = [128, 128], inputChannels: Int = 1, stages: [Stage]? = nil,
                headWidths: [Int] = [256, 128, 64, 32], heads: [Head]? = nil, activation: Activation = .gelu,
                normalization: NormalizationKind = .batch, normEpsilon: Float = 0.001) {
        self.imageSize = imageSize
        self.inputChannels = inputChannels
        self.stages = stages ?? Self.specStages
        self.headWidths = headWidths
        self.heads = heads ?? Self.specHeads
        self.activation = activation
        self.normalization = normalization
        self.normEpsilon = normEpsilon
    }

    /// Spec §2.2 trunk: 7×7/16, 5×5/32, 5×5/32, 3×3/64, 3×3/64 with pools 2, 2, 2, 2, 4.
    public static let specStages: [Stage] = [
        Stage(features: 16, kernel: 7, pool: 2), Stage(features: 32, kernel: 5, pool: 2),
        Stage(features: 32, kernel: 5, pool: 2), Stage(features: 64, kernel: 3, pool: 2),
        Stage(features: 64, kernel: 3, pool: 4),
    ]

    /// Spec §2.1: side (the code implies Both/Left/Right) and 8 body positions.
    public static let specHeads: [Head] = [
        Head(name: "side", classes: ["Both", "Left", "Right"]),
        Head(name: "position", classes: ["Lower", "Knee", "Upper", "Hip", "Torso", "Shoulder", "Neck", "Head"]),
    ]

    /// Spatial size after the trunk.
    public var trunkOutputSize: [Int] {
        var s = imageSize
        for stage in stages { s = s.map { $0 / stage.pool } }
        return s
    }

    public var flattenedFeatures: Int { (stages.last?.features ?? inputChannels) * trunkOutputSize.reduce(1, *) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case imageSize, inputChannels, stages, headWidths, heads, activation, activationParameter, normalization, normEpsilon
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue) + ["type"]), what: "slice classifier")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let activationName = try c.decodeIfPresent(String.self, forKey: .activation) ?? "gelu"
        let activation: Activation
        do {
            activation = try Activation(name: activationName,
                                        parameter: try c.decodeIfPresent(Float.self, forKey: .activationParameter))
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .activation, in: c, debugDescription: "\(error)")
        }
        let normName = try c.decodeIfPresent(String.self, forKey: .normalization) ?? "batch"
        guard let norm = NormalizationKind(rawValue: normName.lowercased()), norm != .instance else {
            throw DecodingError.dataCorruptedError(forKey: .normalization, in: c,
                debugDescription: "unknown classifier normalization \"\(normName)\" (known: batch, none)")
        }
        self.init(imageSize: try c.decodeIfPresent([Int].self, forKey: .imageSize) ?? [128, 128],
                  inputChannels: try c.decodeIfPresent(Int.self, forKey: .inputChannels) ?? 1,
                  stages: try c.decodeIfPresent([Stage].self, forKey: .stages),
                  headWidths: try c.decodeIfPresent([Int].self, forKey: .headWidths) ?? [256, 128, 64, 32],
                  heads: try c.decodeIfPresent([Head].self, forKey: .heads),
                  activation: activation, normalization: norm,
                  normEpsilon: try c.decodeIfPresent(Float.self, forKey: .normEpsilon) ?? 0.001)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(inputChannels, forKey: .inputChannels)
        try c.encode(stages, forKey: .stages)
        try c.encode(headWidths, forKey: .headWidths)
        try c.encode(heads, forKey: .heads)
        try c.encode(activation.name, forKey: .activation)
        try c.encodeIfPresent(activation.parameter, forKey: .activationParameter)
        try c.encode(normalization.rawValue, forKey: .normalization)
        try c.encode(normEpsilon, forKey: .normEpsilon)
    }

    public func validate(file: String) throws {
        func fail(_ p: String) -> EngineError { .modelFile(file: file, problem: "architecture: \(p)") }
        guard imageSize.count == 2, imageSize.allSatisfy({ $0 >= 1 }), inputChannels >= 1 else {
            throw fail("imageSize must be [height, width] and inputChannels ≥ 1")
        }
        guard !stages.isEmpty, stages.allSatisfy({ $0.features >= 1 && $0.kernel >= 1 && $0.kernel % 2 == 1 && $0.pool >= 1 }) else {
            throw fail("stages need features ≥ 1, an odd kernel and pool ≥ 1")
        }
        var s = imageSize
        for stage in stages {
            guard s.allSatisfy({ $0 % stage.pool == 0 }) else {
                throw fail("image size \(imageSize) is not divisible by the pooling windows")
            }
            s = s.map { $0 / stage.pool }
        }
        guard !heads.isEmpty, Set(heads.map(\.name)).count == heads.count,
              heads.allSatisfy({ !$0.name.isEmpty && $0.classes.count >= 2 }) else {
            throw fail("heads need unique non-empty names and at least 2 classes each")
        }
        guard headWidths.allSatisfy({ $0 >= 1 }), normEpsilon > 0 else { throw fail("head widths must be ≥ 1") }
    }

    public func parameterSpecs() -> [ParameterSpec] {
        var specs: [ParameterSpec] = []
        var channels = inputChannels
        for (i, stage) in stages.enumerated() {
            specs += layerSpecs("trunk.\(i).conv", weight: [stage.features, channels, stage.kernel, stage.kernel],
                                norm: normalization, normPrefix: "trunk.\(i).norm", channels: stage.features)
            channels = stage.features
        }
        for head in heads {
            var width = flattenedFeatures
            for (j, w) in headWidths.enumerated() {
                specs += layerSpecs("heads.\(head.name).\(j).linear", weight: [w, width], norm: normalization,
                                    normPrefix: "heads.\(head.name).\(j).norm", channels: w)
                width = w
            }
            specs += layerSpecs("heads.\(head.name).output", weight: [head.classes.count, width], norm: .none,
                                normPrefix: "", channels: 0)
        }
        return specs
    }
}
