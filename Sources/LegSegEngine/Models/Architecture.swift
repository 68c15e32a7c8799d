/// Normalisation after a convolution (or dense layer).
public enum NormalizationKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// Batch normalisation with running statistics; folded into the preceding layer's weights at load time.
    case batch
    /// Instance normalisation (per sample and channel over space) with learned scale and shift.
    case instance
    case none
}

/// One parameter tensor an architecture expects in its weights file.
public struct ParameterSpec: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    /// Running statistics are stored but not trained.
    public var trainable: Bool
}

/// What every network architecture provides: the exact list of tensors its weights file must hold.
public protocol NetworkArchitecture: Sendable {
    /// Checks internal consistency; throws a one-line `EngineError.modelFile` (with `file`) when inconsistent.
    func validate(file: String) throws
    /// Every tensor, in a stable order, with its shape. Names are documented in docs/engine.md.
    func parameterSpecs() -> [ParameterSpec]
}

extension NetworkArchitecture {
    /// Number of stored values (including batch-norm running statistics).
    public var storedParameterCount: Int { parameterSpecs().reduce(0) { $0 + $1.shape.reduce(1, *) } }
    /// Number of trainable values.
    public var trainableParameterCount: Int {
        parameterSpecs().filter(\.trainable).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }
}

/// Tensor names and shapes of a convolution or dense layer followed by an optional normalisation.
func layerSpecs(_ prefix: String, weight: [Int], bias: Bool = true, norm: NormalizationKind, normPrefix: String,
                channels: Int) -> [ParameterSpec] {
    var specs = [ParameterSpec(name: "\(prefix).weight", shape: weight, trainable: true)]
    if bias { specs.append(ParameterSpec(name: "\(prefix).bias", shape: [weight[0]], trainable: true)) }
    specs += normSpecs(normPrefix, norm: norm, channels: channels)
    return specs
}

func normSpecs(_ prefix: String, norm: NormalizationKind, channels: Int) -> [ParameterSpec] {
    switch norm {
    case .none: return []
    case .instance:
        return [ParameterSpec(name: "\(prefix).weight", shape: [channels], trainable: true),
                ParameterSpec(name: "\(prefix).bias", shape: [channels], trainable: true)]
    case .batch:
        return [ParameterSpec(name: "\(prefix).weight", shape: [channels], trainable: true),
                ParameterSpec(name: "\(prefix).bias", shape: [channels], trainable: true),
                ParameterSpec(name: "\(prefix).running_mean", shape: [channels], trainable: false),
                ParameterSpec(name: "\(prefix).running_var", shape: [channels], trainable: false)]
    }
}

/// Decoding helper: rejects keys the schema does not know, so a typo or an unknown layer option fails loudly.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

func rejectUnknownKeys(_ decoder: Decoder, known: Set<String>, what: String) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    let unknown = container.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
    if let first = unknown.first {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [AnyKey(stringValue: first)],
            debugDescription: "unknown \(what) key \"\(first)\" (known: \(known.sorted().joined(separator: ", ")))"))
    }
}
