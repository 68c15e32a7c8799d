import Foundation

/// A network's architecture, tagged by `"type"` in the model file.
public enum ArchitectureSpec: Codable, Hashable, Sendable {
    case unet(UNetConfiguration)
    case sliceClassifier(SliceClassifierConfiguration)

    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: TypeKey.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "unet": self = .unet(try UNetConfiguration(from: decoder))
        case "sliceClassifier": self = .sliceClassifier(try SliceClassifierConfiguration(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c,
                debugDescription: "unknown architecture type \"\(type)\" (known: unet, sliceClassifier)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case .unet(let config):
            try c.encode("unet", forKey: .type)
            try config.encode(to: encoder)
        case .sliceClassifier(let config):
            try c.encode("sliceClassifier", forKey: .type)
            try config.encode(to: encoder)
        }
    }

    public var network: any NetworkArchitecture {
        switch self {
        case .unet(let c): return c
        case .sliceClassifier(let c): return c
        }
    }
}

/// How raw intensities are mapped before they enter the network (applied by the pipeline, recorded here so
/// training and inference agree).
public struct InputNormalization: Codable, Hashable, Sendable {
    /// "uniform" (histogram-CDF, spec §1.6.6), "zscore", "minmax" (to [0, 1]) or "none".
    public var rule: String
    /// Histogram bins for "uniform".
    public var bins: Int?
    public init(rule: String, bins: Int? = nil) {
        self.rule = rule
        self.bins = bins
    }
    public static let knownRules: Set<String> = ["uniform", "zscore", "minmax", "none"]
}

public struct InputSpec: Codable, Hashable, Sendable {
    public var normalization: InputNormalization
    /// Patch (segmentation) or image (classifier) size it was trained at, `(z, y, x)` or `(y, x)`.
    public var patchSize: [Int]
    /// Voxel size in millimetres it was trained at, same axis order; empty when unknown.
    public var voxelSizeMM: [Double]
    public init(normalization: InputNormalization, patchSize: [Int], voxelSizeMM: [Double]) {
        self.normalization = normalization
        self.patchSize = patchSize
        self.voxelSizeMM = voxelSizeMM
    }
}

/// One output class of a segmentation network: its name and the label value it writes.
public struct ClassLabel: Codable, Hashable, Sendable {
    public var name: String
    public var label: Int
    public init(name: String, label: Int) {
        self.name = name
        self.label = label
    }
}

public struct WeightsReference: Codable, Hashable, Sendable {
    /// File name of the safetensors file, relative to the JSON file's folder.
    public var file: String
    /// SHA-256 of that file, 64 lowercase hex digits.
    public var sha256: String
    /// Element type every tensor in the file has: "F32", "F16" or "BF16".
    public var dtype: SafetensorsDType
    public init(file: String, sha256: String, dtype: SafetensorsDType) {
        self.file = file
        self.sha256 = sha256
        self.dtype = dtype
    }
}

/// `<name>.json`: everything needed to run a network except its weights, which sit in `<name>.safetensors`.
public struct ModelManifest: Codable, Hashable, Sendable {
    public static let formatName = "legseg-model"
    public static let currentVersion = 1

    public var format: String
    public var formatVersion: Int
    public var name: String
    public var description: String?
    public var architecture: ArchitectureSpec
    public var input: InputSpec
    /// Segmentation networks: one entry per output class, in class order (class 0 = background).
    public var classes: [ClassLabel]?
    /// Who made the weights and how (script, commit, seed, data, date).
    public var provenance: [String: String]
    public var weights: WeightsReference

    public init(name: String, description: String? = nil, architecture: ArchitectureSpec, input: InputSpec,
                classes: [ClassLabel]?, provenance: [String: String], weights: WeightsReference) {
        self.format = Self.formatName
        self.formatVersion = Self.currentVersion
        self.name = name
        self.description = description
        self.architecture = architecture
        self.input = input
        self.classes = classes
        self.provenance = provenance
        self.weights = weights
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, formatVersion, name, description, architecture, input, classes, provenance, weights
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue)), what: "model file")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        architecture = try c.decode(ArchitectureSpec.self, forKey: .architecture)
        input = try c.decode(InputSpec.self, forKey: .input)
        classes = try c.decodeIfPresent([ClassLabel].self, forKey: .classes)
        provenance = try c.decodeIfPresent([String: String].self, forKey: .provenance) ?? [:]
        weights = try c.decode(WeightsReference.self, forKey: .weights)
    }

    /// Checks the fields that the schema alone cannot.
    public func validate(file: String) throws {
        func fail(_ p: String) -> EngineError { .modelFile(file: file, problem: p) }
        guard format == Self.formatName else { throw fail("format is \"\(format)\", expected \"\(Self.formatName)\"") }
        guard formatVersion == Self.currentVersion else {
            throw fail("formatVersion \(formatVersion) is not supported (this LegSeg reads version \(Self.currentVersion))")
        }
        try architecture.network.validate(file: file)
        guard InputNormalization.knownRules.contains(input.normalization.rule) else {
            throw fail("unknown input normalization rule \"\(input.normalization.rule)\" (known: \(InputNormalization.knownRules.sorted().joined(separator: ", ")))")
        }
        guard weights.sha256.count == 64, weights.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw fail("weights.sha256 must be 64 lowercase hex digits")
        }
        guard !weights.file.isEmpty, !weights.file.contains("/"), weights.file.hasSuffix(".safetensors") else {
            throw fail("weights.file must be a .safetensors file name beside the JSON file")
        }
        switch architecture {
        case .unet(let config):
            guard let classes else { throw fail("a unet model needs a \"classes\" list") }
            guard classes.count == config.classes else {
                throw fail("\"classes\" lists \(classes.count) entries but the network has \(config.classes) outputs")
            }
            guard input.patchSize.count == config.dimensions else {
                throw fail("input.patchSize \(input.patchSize) must have \(config.dimensions) entries")
            }
            if (try? config.checkPatch(input.patchSize)) == nil {
                throw fail("input.patchSize \(input.patchSize) is not a multiple of the network's step \(config.step)")
            }
        case .sliceClassifier(let config):
            guard input.patchSize == config.imageSize else {
                throw fail("input.patchSize \(input.patchSize) differs from the classifier's imageSize \(config.imageSize)")
            }
        }
        guard input.voxelSizeMM.isEmpty || input.voxelSizeMM.count == input.patchSize.count else {
            throw fail("input.voxelSizeMM must be empty or have one entry per axis of patchSize")
        }
    }
}
