/// A tensor that lives in a backend's memory, in whatever layout the backend finds fastest (oneDNN keeps
/// activations channels-last or blocked). Layers never look inside; they pass it back to the same backend.
/// The logical shape is always `[N, C, spatial...]` (or `[N, K]`), as for `HostTensor`.
public protocol DeviceTensor: AnyObject {
    var shape: [Int] { get }
    var precision: Precision { get }
}

/// How a tensor uploaded to a backend will be used; backends may pick a layout from it.
public enum TensorRole: Sendable, Hashable {
    /// Data flowing through the network.
    case activation
    /// Convolution weights `[O, I, k...]`.
    case convolutionWeight
    /// Transposed-convolution weights in PyTorch's order `[I, O, k...]`.
    case transposedConvolutionWeight
    /// Dense weights `[O, K]`.
    case denseWeight
    /// Per-channel vectors (bias, scale, shift, running statistics); always kept in f32.
    case vector
}

/// Element-wise activation functions, with PyTorch's definitions (GELU is the exact erf form).
public enum Activation: Hashable, Sendable, Codable {
    case identity
    case relu
    case leakyRelu(negativeSlope: Float)
    case elu(alpha: Float)
    case gelu
    case sigmoid
    case tanh

    /// PyTorch's default: `LeakyReLU(0.01)`. The Wolfram "LeakyRELU" is a learned parametric ramp; LegSeg uses
    /// a fixed slope stored in the model file.
    public static let leakyReluDefaultSlope: Float = 0.01

    /// The model-file spelling: "gelu", "relu", "elu", "leakyRelu", "sigmoid", "tanh", "identity"; ELU and
    /// leaky ReLU take their parameter from `parameter` (defaults 1 and 0.01).
    public init(name: String, parameter: Float? = nil) throws {
        switch name.lowercased() {
        case "identity", "none", "linear": self = .identity
        case "relu": self = .relu
        case "leakyrelu", "leaky_relu": self = .leakyRelu(negativeSlope: parameter ?? Self.leakyReluDefaultSlope)
        case "elu": self = .elu(alpha: parameter ?? 1)
        case "gelu": self = .gelu
        case "sigmoid", "logistic": self = .sigmoid
        case "tanh": self = .tanh
        default:
            throw EngineError.unsupported(
                "unknown activation \"\(name)\" (known: gelu, relu, leakyRelu, elu, sigmoid, tanh, identity)")
        }
    }

    public var name: String {
        switch self {
        case .identity: return "identity"
        case .relu: return "relu"
        case .leakyRelu: return "leakyRelu"
        case .elu: return "elu"
        case .gelu: return "gelu"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        }
    }

    public var parameter: Float? {
        switch self {
        case .leakyRelu(let slope): return slope
        case .elu(let alpha): return alpha
        default: return nil
        }
    }
}

/// Geometry of a (transposed) convolution over `spatialRank` axes (2 or 3). `padding` is added at the low end
/// of each axis and `paddingEnd` at the high end (symmetric unless given, as in PyTorch); `outputPadding`
/// applies to transposed convolutions only (added at the high end).
public struct ConvolutionGeometry: Hashable, Sendable {
    public var kernel: [Int]
    public var stride: [Int]
    public var padding: [Int]
    public var paddingEnd: [Int]
    public var dilation: [Int]
    public var outputPadding: [Int]

    public init(kernel: [Int], stride: [Int]? = nil, padding: [Int]? = nil, paddingEnd: [Int]? = nil,
                dilation: [Int]? = nil, outputPadding: [Int]? = nil) {
        let rank = kernel.count
        self.kernel = kernel
        self.stride = stride ?? Array(repeating: 1, count: rank)
        self.padding = padding ?? Array(repeating: 0, count: rank)
        self.paddingEnd = paddingEnd ?? self.padding
        self.dilation = dilation ?? Array(repeating: 1, count: rank)
        self.outputPadding = outputPadding ?? Array(repeating: 0, count: rank)
    }

    /// "Same" convolution for odd kernels: stride 1, padding `(k − 1)/2·dilation`.
    public static func same(kernel: Int, rank: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(kernel: Array(repeating: kernel, count: rank),
                            padding: Array(repeating: (kernel - 1) / 2, count: rank))
    }

    public var spatialRank: Int { kernel.count }

    func check(_ op: String) throws {
        let r = kernel.count
        guard r == 1 || r == 2 || r == 3, stride.count == r, padding.count == r, paddingEnd.count == r,
              dilation.count == r, outputPadding.count == r else {
            throw EngineError.shape("\(op): kernel, stride, padding, dilation must have one entry per spatial axis (1–3)")
        }
        guard kernel.allSatisfy({ $0 >= 1 }), stride.allSatisfy({ $0 >= 1 }), dilation.allSatisfy({ $0 >= 1 }),
              padding.allSatisfy({ $0 >= 0 }), paddingEnd.allSatisfy({ $0 >= 0 }) else {
            throw EngineError.shape("\(op): kernel, stride and dilation must be ≥ 1 and padding ≥ 0")
        }
    }

    /// Output spatial size of the forward convolution (PyTorch's floor rule).
    public func convolutionOutput(_ input: [Int]) throws -> [Int] {
        try check("convolution")
        guard input.count == kernel.count else { throw EngineError.shape("convolution: input has \(input.count) spatial axes, kernel \(kernel.count)") }
        var out: [Int] = []
        for a in 0..<input.count {
            let span = (kernel[a] - 1) * dilation[a] + 1
            let padded = input[a] + padding[a] + paddingEnd[a]
            let size = (padded - span) / stride[a] + 1
            guard padded >= span, size >= 1 else {
                throw EngineError.shape("convolution: spatial input \(input) is smaller than the kernel span on axis \(a)")
            }
            out.append(size)
        }
        return out
    }

    /// Output spatial size of the transposed convolution (PyTorch's rule).
    public func transposedOutput(_ input: [Int]) throws -> [Int] {
        try check("transposed convolution")
        guard input.count == kernel.count else { throw EngineError.shape("transposed convolution: input has \(input.count) spatial axes, kernel \(kernel.count)") }
        var out: [Int] = []
        for a in 0..<input.count {
            guard outputPadding[a] < max(stride[a], dilation[a]) else {
                throw EngineError.shape("transposed convolution: output padding must be smaller than stride or dilation")
            }
            let size = (input[a] - 1) * stride[a] - padding[a] - paddingEnd[a] + dilation[a] * (kernel[a] - 1) + outputPadding[a] + 1
            guard size >= 1 else { throw EngineError.shape("transposed convolution: output size \(size) on axis \(a)") }
            out.append(size)
        }
        return out
    }
}

/// Work a backend does on a convolution's or dense layer's output before writing it:
/// `output = activation(op(x) + bias) + residual`. oneDNN runs both as post-ops of the same primitive.
public struct Epilogue {
    public var activation: Activation
    /// A tensor of the output's shape to add after the activation. The backend may write the result into
    /// this tensor's memory, so the caller must not use it afterwards.
    public var residual: (any DeviceTensor)?

    /// Writes the output in f32 even when the input is bf16 (used for logits before a softmax, as PyTorch's
    /// autocast does). Ignored when a residual is given (the output then takes the residual's precision).
    public var f32Output: Bool

    public init(activation: Activation = .identity, residual: (any DeviceTensor)? = nil, f32Output: Bool = false) {
        self.activation = activation
        self.residual = residual
        self.f32Output = f32Output
    }

    public static var none: Epilogue { Epilogue() }
}

public enum PoolingKind: String, Hashable, Sendable, Codable {
    case max
    /// Average over the window including zero padding (PyTorch's default `count_include_pad=True`).
    case average
}

public struct PoolingGeometry: Hashable, Sendable {
    public var kind: PoolingKind
    public var kernel: [Int]
    public var stride: [Int]
    public var padding: [Int]

    public init(kind: PoolingKind, kernel: [Int], stride: [Int]? = nil, padding: [Int]? = nil) {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding ?? Array(repeating: 0, count: kernel.count)
    }

    /// Output spatial size (PyTorch's floor rule).
    public func output(_ input: [Int]) throws -> [Int] {
        guard input.count == kernel.count, stride.count == kernel.count, padding.count == kernel.count else {
            throw EngineError.shape("pooling: input has \(input.count) spatial axes, window \(kernel.count)")
        }
        var out: [Int] = []
        for a in 0..<input.count {
            guard kernel[a] >= 1, stride[a] >= 1, padding[a] >= 0, 2 * padding[a] <= kernel[a],
                  input[a] + 2 * padding[a] >= kernel[a] else {
                throw EngineError.shape("pooling: window \(kernel) does not fit input \(input)")
            }
            out.append((input[a] + 2 * padding[a] - kernel[a]) / stride[a] + 1)
        }
        return out
    }
}

public enum UpsamplingMode: String, Hashable, Sendable, Codable {
    /// Nearest neighbour (PyTorch `mode="nearest"`): output i reads input ⌊i / factor⌋.
    case nearest
    /// Linear / bilinear / trilinear with PyTorch's `align_corners=False`.
    case linear
}

/// What a backend can do; layers consult it to decide on fusion and precision.
public struct BackendCapabilities: Sendable, CustomStringConvertible {
    /// The backend computes bf16 natively (e.g. AVX512_BF16 or AMX); when false a bf16 request is emulated
    /// by rounding f32 results to bf16 after every operation.
    public var nativeBF16: Bool
    /// Activation and residual addition can be fused into convolutions and dense layers.
    public var fusedEpilogue: Bool
    /// Free-form description of the device (ISA, thread count).
    public var device: String

    public init(nativeBF16: Bool, fusedEpilogue: Bool, device: String) {
        self.nativeBF16 = nativeBF16
        self.fusedEpilogue = fusedEpilogue
        self.device = device
    }

    public var description: String {
        "\(device), bf16 \(nativeBF16 ? "native" : "emulated"), fused epilogues \(fusedEpilogue ? "yes" : "no")"
    }
}

/// The seam between layers and compute. One implementation per device family (LegSegDNNL for CPUs with oneDNN;
/// a CUDA/cuDNN backend later). Every entry point is forward inference, takes value-type descriptors and
/// throws `EngineError`. Backends cache prepared kernels by shape and precision and may reuse memory.
/// Tensors passed to a backend must have been created by that same backend.
public protocol Backend: AnyObject {
    var name: String { get }
    var capabilities: BackendCapabilities { get }

    /// Copies host data in. Activations take `precision`; `.vector` tensors are always f32.
    func upload(_ tensor: HostTensor, role: TensorRole, precision: Precision) throws -> any DeviceTensor
    /// Copies data out as f32 in logical `[N, C, spatial...]` order.
    func download(_ tensor: any DeviceTensor) throws -> HostTensor

    /// Convolution with weights `[O, I, k...]` and optional bias `[O]`, then the epilogue.
    func convolution(_ input: any DeviceTensor, weight: any DeviceTensor, bias: (any DeviceTensor)?,
                     geometry: ConvolutionGeometry, epilogue: Epilogue) throws -> any DeviceTensor
    /// Transposed convolution with PyTorch-ordered weights `[I, O, k...]` and optional bias `[O]`.
    func transposedConvolution(_ input: any DeviceTensor, weight: any DeviceTensor, bias: (any DeviceTensor)?,
                               geometry: ConvolutionGeometry, epilogue: Epilogue) throws -> any DeviceTensor
    /// Batch normalisation with running statistics (inference).
    func batchNormalization(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                            mean: any DeviceTensor, variance: any DeviceTensor, epsilon: Float) throws -> any DeviceTensor
    /// Instance normalisation: per sample and channel over all spatial positions (biased variance), then
    /// per-channel scale and shift.
    func instanceNormalization(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                               epsilon: Float) throws -> any DeviceTensor
    func activation(_ input: any DeviceTensor, _ activation: Activation) throws -> any DeviceTensor
    /// Softmax over axis 1 (channels) at every position, written in `precision` (as PyTorch's autocast, bf16 logits
    /// may give f32 probabilities).
    func softmaxOverChannels(_ input: any DeviceTensor, precision: Precision) throws -> any DeviceTensor
    func pooling(_ input: any DeviceTensor, geometry: PoolingGeometry) throws -> any DeviceTensor
    /// Mean over all spatial positions: `[N, C, spatial...]` → `[N, C]`.
    func globalAveragePooling(_ input: any DeviceTensor) throws -> any DeviceTensor
    /// Fully connected layer: input `[N, ...]` flattened in logical order to `[N, K]`, weights `[O, K]`.
    func dense(_ input: any DeviceTensor, weight: any DeviceTensor, bias: (any DeviceTensor)?,
               epilogue: Epilogue) throws -> any DeviceTensor
    /// Concatenation along channels, in the order given.
    func concatenateChannels(_ inputs: [any DeviceTensor]) throws -> any DeviceTensor
    /// Element-wise sum of two tensors of equal shape, then an activation.
    func add(_ a: any DeviceTensor, _ b: any DeviceTensor, activation: Activation) throws -> any DeviceTensor
    /// Upsampling by integer factors per spatial axis.
    func upsample(_ input: any DeviceTensor, factors: [Int], mode: UpsamplingMode) throws -> any DeviceTensor
    /// The fine grid from its polyphase parts (`UpsampledConvolution`): `phases[p]`, all `[N, C, spatial...]`,
    /// holds the voxels at offset `UpsampledConvolution.phases(factors:)[p].offset` of every block of `factors`;
    /// the result is `[N, C, spatial·factors]`, after the channels of `leading` (fine-grid tensors) when given:
    /// `concatenateChannels(leading + [interleave(phases)])` written in one pass (the decoder's skip concatenation).
    func interleave(_ phases: [any DeviceTensor], factors: [Int], after leading: [any DeviceTensor]) throws -> any DeviceTensor
}

extension Backend {
    /// Softmax over channels in the input's precision.
    public func softmaxOverChannels(_ input: any DeviceTensor) throws -> any DeviceTensor {
        try softmaxOverChannels(input, precision: input.precision)
    }

    public func interleave(_ phases: [any DeviceTensor], factors: [Int]) throws -> any DeviceTensor {
        try interleave(phases, factors: factors, after: [])
    }

    /// Dropout at inference is the identity (inverted dropout scales during training only).
    public func dropout(_ input: any DeviceTensor, rate: Float) -> any DeviceTensor { input }

    public func upload(_ tensor: HostTensor, precision: Precision) throws -> any DeviceTensor {
        try upload(tensor, role: .activation, precision: precision)
    }
}
