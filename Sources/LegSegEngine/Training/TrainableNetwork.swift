import Foundation

/// A network being trained: f32 master values of every stored tensor (`parameterSpecs()` names, so the values
/// are exactly a LegSeg weights file), uploaded to the backend at each forward pass in the tape's precision
/// (bf16 for mixed precision: weights and activations bf16, vectors and gradients f32).
/// Batch-norm running statistics are updated during training forward passes (PyTorch's momentum rule with the
/// unbiased batch variance).
public class TrainableNetwork {
    public let architecture: any NetworkArchitecture
    public let specs: [ParameterSpec]
    /// Every stored tensor by name (trainable weights and running statistics).
    public var parameters: [String: HostTensor]
    /// PyTorch's batch-norm momentum: `running = (1 − m)·running + m·batch`.
    public var batchNormMomentum: Float = 0.1
    fileprivate var leaves: [String: Variable] = [:]
    /// Stored tensors used through tape variables derived from them (the phases of an up-convolution), with
    /// the map from those variables' gradients back to the stored tensor's gradient.
    fileprivate var derived: [String: (variables: [Variable], gradient: ([HostTensor]) -> HostTensor)] = [:]

    init(architecture: any NetworkArchitecture, parameters: [String: HostTensor]) throws {
        self.architecture = architecture
        specs = architecture.parameterSpecs()
        for spec in specs {
            guard let t = parameters[spec.name] else { throw EngineError.shape("missing tensor \(spec.name)") }
            guard t.shape == spec.shape else { throw EngineError.shape("tensor \(spec.name) has shape \(t.shape), expected \(spec.shape)") }
        }
        guard parameters.count == specs.count else {
            let extra = Set(parameters.keys).subtracting(specs.map(\.name)).sorted()
            throw EngineError.shape("unexpected tensors \(extra.joined(separator: ", "))")
        }
        self.parameters = parameters
    }

    /// Names of the tensors an optimiser updates (running statistics excluded).
    public var trainableNames: [String] { specs.filter(\.trainable).map(\.name) }

    /// Kaiming/He normal initialisation as in the original (PyTorch `kaiming_normal_`, fan-in, gain √2) for
    /// convolution and dense weights; zero biases; batch norm γ = 1, β = 0, running mean 0 and variance 1.
    public static func initialParameters(_ architecture: any NetworkArchitecture, seed: UInt64) -> [String: HostTensor] {
        var rng = SplitMix64(seed: seed)
        var out: [String: HostTensor] = [:]
        for spec in architecture.parameterSpecs() {
            var t = HostTensor(zeros: spec.shape)
            let isNorm = spec.name.contains("norm")
            if spec.name.hasSuffix(".weight") && !isNorm {
                let fanIn = spec.shape.dropFirst().reduce(1, *)
                let std = (2.0 / Double(max(fanIn, 1))).squareRoot()
                for i in t.data.indices { t.data[i] = Float(rng.normal() * std) }
            } else if (spec.name.hasSuffix(".weight") && isNorm) || spec.name.hasSuffix("running_var") {
                for i in t.data.indices { t.data[i] = 1 }
            }
            out[spec.name] = t
        }
        return out
    }

    /// Starts a forward pass; `overriding` supplies tape variables for some tensors (gradient checks).
    func beginForward(overriding: [String: Variable] = [:]) {
        leaves = overriding
        derived = [:]
    }

    /// The tensor `name` on the tape (uploaded once per forward pass).
    func parameter(_ tape: Tape, _ name: String) throws -> Variable {
        if let v = leaves[name] { return v }
        guard let host = parameters[name] else { throw EngineError.shape("missing tensor \(name)") }
        let role: TensorRole
        switch host.rank {
        case 1: role = .vector
        case 2: role = .denseWeight
        default: role = .convolutionWeight
        }
        let v = tape.variable(try tape.backend.upload(host, role: role, precision: tape.precision))
        leaves[name] = v
        return v
    }

    /// Gradients (f32, host) of every trainable tensor after `tape.backward`; zeros where none arrived.
    public func gradients(from tape: Tape) throws -> [String: HostTensor] {
        var out: [String: HostTensor] = [:]
        for name in trainableNames {
            if let (variables, gradient) = derived[name] {
                let shape = parameters[name]!.shape
                out[name] = gradient(try variables.map { v in
                    try tape.gradient(of: v).map { try tape.backend.download($0) } ?? HostTensor(zeros: v.shape)
                })
                precondition(out[name]!.shape == shape, "derived gradient of \(name)")
            } else if let leaf = leaves[name], let g = tape.gradient(of: leaf) {
                out[name] = try tape.backend.download(g).reshaped(parameters[name]!.shape)
            } else {
                out[name] = HostTensor(zeros: parameters[name]!.shape)
            }
        }
        return out
    }

    /// Convolution or dense layer with optional normalisation and activation: `act(norm(op(x)))`.
    func unit(_ tape: Tape, _ x: Variable, prefix: String, geometry: ConvolutionGeometry?, norm: NormalizationKind,
              normPrefix: String, epsilon: Float, activation: Activation) throws -> Variable {
        let w = try parameter(tape, "\(prefix).weight"), b = try parameter(tape, "\(prefix).bias")
        var h: Variable
        if let geometry {
            h = try tape.convolution(x, weight: w, bias: b, geometry: geometry)
        } else {
            h = try tape.dense(x, weight: w, bias: b)
        }
        switch norm {
        case .none: break
        case .instance:
            h = try tape.instanceNormalization(h, scale: try parameter(tape, "\(normPrefix).weight"),
                                               shift: try parameter(tape, "\(normPrefix).bias"), epsilon: epsilon)
        case .batch:
            let meanName = "\(normPrefix).running_mean", varName = "\(normPrefix).running_var"
            let mean = try tape.backend.upload(parameters[meanName]!, role: .vector, precision: .f32)
            let variance = try tape.backend.upload(parameters[varName]!, role: .vector, precision: .f32)
            let count = h.shape[0] * h.shape.dropFirst(2).reduce(1, *)
            let momentum = batchNormMomentum
            h = try tape.batchNormalization(h, scale: try parameter(tape, "\(normPrefix).weight"),
                                            shift: try parameter(tape, "\(normPrefix).bias"), mean: mean, variance: variance,
                                            epsilon: epsilon) { [unowned self] m, v in
                let bm = try tape.backend.download(m), bv = try tape.backend.download(v)
                let unbiased = Float(count) / Float(max(count - 1, 1))
                for c in bm.data.indices {
                    parameters[meanName]!.data[c] = (1 - momentum) * parameters[meanName]!.data[c] + momentum * bm.data[c]
                    parameters[varName]!.data[c] = (1 - momentum) * parameters[varName]!.data[c] + momentum * bv.data[c] * unbiased
                }
            }
        }
        return try tape.activation(h, activation)
    }
}

/// The segmentation UNet (`UNetConfiguration`) in trainable form; same tensors and topology as `UNet`.
public final class TrainableUNet: TrainableNetwork {
    public let configuration: UNetConfiguration

    public init(configuration: UNetConfiguration, parameters: [String: HostTensor]) throws {
        try configuration.validate(file: "UNet")
        self.configuration = configuration
        try super.init(architecture: configuration, parameters: parameters)
    }

    private func block(_ tape: Tape, _ x: Variable, _ prefix: String) throws -> Variable {
        let c = configuration
        let same3 = ConvolutionGeometry.same(kernel: 3, rank: c.dimensions)
        let skip = try unit(tape, x, prefix: "\(prefix).shortcut", geometry: .same(kernel: 1, rank: c.dimensions),
                            norm: c.normalization, normPrefix: "\(prefix).shortcut_norm", epsilon: c.normEpsilon,
                            activation: .identity)
        var h = x
        for j in 0..<c.blockRepetitions {
            h = try unit(tape, h, prefix: "\(prefix).conv.\(j)", geometry: same3, norm: c.normalization,
                         normPrefix: "\(prefix).norm.\(j)", epsilon: c.normEpsilon, activation: c.activation)
        }
        return try tape.add(h, skip)
    }

    /// The decoder's up-sampling and 3×3×3 convolution, polyphase where it applies (as `UNet` runs it; see
    /// `UpsampledConvolution`): one convolution per phase with a weight derived from the stored one, whose
    /// gradient `gradients(from:)` maps back. A weight supplied as a tape variable (gradient checks) takes the
    /// two-step form.
    private func upConvolution(_ tape: Tape, _ x: Variable, level i: Int) throws -> Variable {
        let c = configuration
        let prefix = "decoder.\(i).up", name = "\(prefix).weight"
        let factors = c.downsampling[i]
        guard UpsampledConvolution.applies(factors: factors, mode: c.upsampling, kernel: Array(repeating: 3, count: c.dimensions)),
              leaves[name] == nil, let stored = parameters[name] else {
            let up = try tape.upsample(x, factors: factors, mode: c.upsampling)
            return try unit(tape, up, prefix: prefix, geometry: .same(kernel: 3, rank: c.dimensions), norm: .none,
                            normPrefix: "", epsilon: 1, activation: .identity)
        }
        let bias = try parameter(tape, "\(prefix).bias")
        var weights: [Variable] = [], outputs: [Variable] = []
        for (geometry, weight) in UpsampledConvolution.phaseWeights(stored, factors: factors) {
            let w = tape.variable(try tape.backend.upload(weight, role: .convolutionWeight, precision: tape.precision))
            weights.append(w)
            outputs.append(try tape.convolution(x, weight: w, bias: bias, geometry: geometry))
        }
        derived[name] = (weights, { UpsampledConvolution.weightGradient(phaseGradients: $0, factors: factors) })
        return try tape.interleave(outputs, factors: factors)
    }

    /// Class probabilities `[N, classes, spatial...]` on the tape.
    public func forward(_ tape: Tape, input: any DeviceTensor) throws -> Variable {
        try forward(tape, input: tape.constant(input), overriding: [:])
    }

    /// The forward pass from a tape variable, with some tensors supplied as tape variables (gradient checks).
    public func forward(_ tape: Tape, input: Variable, overriding: [String: Variable]) throws -> Variable {
        let c = configuration
        guard input.shape.count == c.dimensions + 2, input.shape[1] == c.inputChannels else {
            throw EngineError.shape("UNet: input shape \(input.shape) should be [N, \(c.inputChannels), \(c.dimensions) spatial axes]")
        }
        try c.checkPatch(Array(input.shape.dropFirst(2)))
        beginForward(overriding: overriding)
        let rank = c.dimensions
        let none = NormalizationKind.none
        var x = try unit(tape, input, prefix: "start", geometry: .same(kernel: 1, rank: rank), norm: none,
                         normPrefix: "", epsilon: 1, activation: .identity)
        var skips: [Variable] = []
        for i in 0..<c.depth {
            if i > 0 {
                let g = ConvolutionGeometry(kernel: Array(repeating: 3, count: rank), stride: c.downsampling[i - 1],
                                            padding: Array(repeating: 1, count: rank))
                x = try unit(tape, x, prefix: "encoder.\(i).down", geometry: g, norm: none, normPrefix: "", epsilon: 1,
                             activation: .identity)
            }
            x = try tape.dropout(try block(tape, x, "encoder.\(i).block"), rate: c.dropout)
            if i < c.depth - 1 { skips.append(x) }
        }
        for i in (0..<max(0, c.depth - 1)).reversed() {
            x = try upConvolution(tape, x, level: i)
            x = try tape.concatenateChannels([skips[i], x])
            skips.removeLast()
            x = try tape.dropout(try block(tape, x, "decoder.\(i).block"), rate: c.dropout)
        }
        let logits = try unit(tape, x, prefix: "map", geometry: .same(kernel: 1, rank: rank), norm: none, normPrefix: "",
                              epsilon: 1, activation: .identity)
        return try tape.softmaxOverChannels(logits)
    }
}

/// The slice classifier (`SliceClassifierConfiguration`) in trainable form.
public final class TrainableSliceClassifier: TrainableNetwork {
    public let configuration: SliceClassifierConfiguration

    public init(configuration: SliceClassifierConfiguration, parameters: [String: HostTensor]) throws {
        try configuration.validate(file: "SliceClassifier")
        self.configuration = configuration
        try super.init(architecture: configuration, parameters: parameters)
    }

    /// Probabilities `[N, classes]` per head, in the configuration's head order.
    public func forward(_ tape: Tape, input: any DeviceTensor) throws -> [(head: String, probabilities: Variable)] {
        let c = configuration
        guard input.shape.count == 4, input.shape[1] == c.inputChannels, Array(input.shape[2...]) == c.imageSize else {
            throw EngineError.shape("slice classifier: input shape \(input.shape) should be [N, \(c.inputChannels), \(c.imageSize[0]), \(c.imageSize[1])]")
        }
        beginForward()
        var x = tape.constant(input)
        for (i, stage) in c.stages.enumerated() {
            x = try unit(tape, x, prefix: "trunk.\(i).conv", geometry: .same(kernel: stage.kernel, rank: 2), norm: c.normalization,
                         normPrefix: "trunk.\(i).norm", epsilon: c.normEpsilon, activation: c.activation)
            if stage.pool > 1 { x = try tape.pooling(x, geometry: PoolingGeometry(kind: .max, kernel: [stage.pool, stage.pool])) }
        }
        return try c.heads.map { head in
            var h = x
            for j in c.headWidths.indices {
                h = try unit(tape, h, prefix: "heads.\(head.name).\(j).linear", geometry: nil, norm: c.normalization,
                             normPrefix: "heads.\(head.name).\(j).norm", epsilon: c.normEpsilon, activation: c.activation)
            }
            h = try unit(tape, h, prefix: "heads.\(head.name).output", geometry: nil, norm: .none, normPrefix: "", epsilon: 1,
                         activation: .identity)
            return (head.name, try tape.softmaxOverChannels(h))
        }
    }
}
