/// Weights of one layer read from a weights file, with its optional normalisation.
struct NormParameters {
    var kind: NormalizationKind
    var scale: HostTensor?
    var shift: HostTensor?
    var mean: HostTensor?
    var variance: HostTensor?
    var epsilon: Float

    init(kind: NormalizationKind, prefix: String, weights: [String: HostTensor], epsilon: Float) throws {
        self.kind = kind
        self.epsilon = epsilon
        func get(_ n: String) throws -> HostTensor {
            guard let t = weights["\(prefix).\(n)"] else { throw EngineError.shape("missing tensor \(prefix).\(n)") }
            return t
        }
        switch kind {
        case .none: break
        case .instance: scale = try get("weight"); shift = try get("bias")
        case .batch:
            scale = try get("weight"); shift = try get("bias")
            mean = try get("running_mean"); variance = try get("running_var")
        }
    }

    static func none() -> NormParameters {
        try! NormParameters(kind: .none, prefix: "", weights: [:], epsilon: 1)
    }
}

/// Folds inference batch norm into the preceding layer: `W'[o] = W[o]·s[o]`, `b'[o] = (b[o] − μ[o])·s[o] + β[o]`
/// with `s = γ / √(σ² + ε)`. The weights' first axis is the output channel (convolution and dense layers).
func foldBatchNorm(weight: HostTensor, bias: HostTensor?, norm: NormParameters) -> (HostTensor, HostTensor) {
    let outputs = weight.shape[0]
    let perOutput = weight.count / max(outputs, 1)
    var w = weight
    var b = bias ?? HostTensor(zeros: [outputs])
    for o in 0..<outputs {
        let s = norm.scale!.data[o] / (norm.variance!.data[o] + norm.epsilon).squareRoot()
        for i in 0..<perOutput { w.data[o * perOutput + i] *= s }
        b.data[o] = (b.data[o] - norm.mean!.data[o]) * s + norm.shift!.data[o]
    }
    return (w, b)
}

/// A convolution (or dense layer) with its normalisation and activation, prepared on a backend:
/// `activation(norm(op(x))) [+ residual]`. Batch norm is folded into the weights; activation and residual run
/// as the backend's epilogue unless instance norm sits in between.
final class ConvUnit {
    enum Kind { case convolution(ConvolutionGeometry), dense }

    let backend: any Backend
    let kind: Kind
    let weight: any DeviceTensor
    let bias: (any DeviceTensor)?
    let activation: Activation
    let instanceScale: (any DeviceTensor)?
    let instanceShift: (any DeviceTensor)?
    let epsilon: Float
    let precision: Precision

    init(backend: any Backend, precision: Precision, kind: Kind, prefix: String, weights: [String: HostTensor],
         hasBias: Bool = true, norm: NormParameters, activation: Activation) throws {
        guard let rawWeight = weights["\(prefix).weight"] else { throw EngineError.shape("missing tensor \(prefix).weight") }
        var w = rawWeight
        var b = hasBias ? weights["\(prefix).bias"] : nil
        if norm.kind == .batch { (w, b) = foldBatchNorm(weight: w, bias: b, norm: norm) }
        self.backend = backend
        self.kind = kind
        self.precision = precision
        let role: TensorRole
        switch kind {
        case .convolution: role = .convolutionWeight
        case .dense: role = .denseWeight
        }
        self.weight = try backend.upload(w, role: role, precision: precision)
        self.bias = try b.map { try backend.upload($0, role: .vector, precision: .f32) }
        self.activation = activation
        if norm.kind == .instance {
            instanceScale = try backend.upload(norm.scale!, role: .vector, precision: .f32)
            instanceShift = try backend.upload(norm.shift!, role: .vector, precision: .f32)
        } else {
            instanceScale = nil
            instanceShift = nil
        }
        self.epsilon = norm.epsilon
    }

    /// A logit layer may write f32 so the softmax that follows sees unrounded values (the slice classifier's heads;
    /// the UNet instead reads its bf16 logits into an f32 softmax, as PyTorch's autocast does).
    var f32Output = false

    private func raw(_ x: any DeviceTensor, _ epilogue: Epilogue) throws -> any DeviceTensor {
        var epilogue = epilogue
        epilogue.f32Output = f32Output
        switch kind {
        case .convolution(let g):
            return try backend.convolution(x, weight: weight, bias: bias, geometry: g, epilogue: epilogue)
        case .dense:
            return try backend.dense(x, weight: weight, bias: bias, epilogue: epilogue)
        }
    }

    func callAsFunction(_ x: any DeviceTensor, residual: (any DeviceTensor)? = nil) throws -> any DeviceTensor {
        guard let scale = instanceScale, let shift = instanceShift else {
            return try raw(x, Epilogue(activation: activation, residual: residual))
        }
        var y = try raw(x, .none)
        y = try backend.instanceNormalization(y, scale: scale, shift: shift, epsilon: epsilon)
        if let residual { return try backend.add(try backend.activation(y, activation), residual, activation: .identity) }
        return activation == .identity ? y : try backend.activation(y, activation)
    }
}
