import CDNNL
import LegSegEngine

/// Turns a oneDNN status into a thrown `EngineError.backend` naming the call.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    guard status == dnnl_success else {
        throw EngineError.backend("\(call()) failed with \(statusName(status))")
    }
}

func statusName(_ status: dnnl_status_t) -> String {
    switch status {
    case dnnl_out_of_memory: return "out_of_memory"
    case dnnl_invalid_arguments: return "invalid_arguments"
    case dnnl_unimplemented: return "unimplemented (no kernel for this shape/type on this CPU)"
    case dnnl_iterator_ends: return "iterator_ends"
    case dnnl_runtime_error: return "runtime_error"
    case dnnl_not_required: return "not_required"
    default: return "status \(status.rawValue)"
    }
}

/// Builds hashable keys for the primitive cache from the raw bytes of descriptors and parameters.
struct CacheKey: Hashable {
    var bytes: [UInt8] = []

    init(_ tag: String) { bytes.append(contentsOf: Array(tag.utf8)); bytes.append(0) }

    mutating func add<T>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    mutating func add(_ values: [Int]) {
        add(values.count)
        for v in values { add(v) }
    }
}

/// True for the name of one of oneDNN's reference (plain C++) kernels: "ref:any", "bnorm_ref:any", "gemm:ref", ...
func isReferenceKernel(_ implementation: String) -> Bool {
    implementation.split(separator: ":").contains { $0 == "ref" || $0.hasSuffix("_ref") }
}

/// Owns a primitive descriptor and its primitive; both are freed with the object.
final class DNNLPrimitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    init(descriptor: dnnl_primitive_desc_t) throws {
        var p: dnnl_primitive_t?
        let status = dnnl_primitive_create(&p, descriptor)
        guard status == dnnl_success, let p else {
            dnnl_primitive_desc_destroy(descriptor)
            throw EngineError.backend("dnnl_primitive_create failed with \(statusName(status))")
        }
        self.descriptor = descriptor
        self.primitive = p
        var info: UnsafePointer<CChar>?
        if dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &info) == dnnl_success, let info {
            implementation = String(cString: info)
        } else {
            implementation = "unknown"
        }
    }

    /// oneDNN's name for the kernel it picked ("brg:avx512_core", "jit:avx2", "ref:any", ...).
    let implementation: String

    /// True for oneDNN's slow reference kernels.
    var isReference: Bool { isReferenceKernel(implementation) }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    func md(_ what: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(descriptor, what, index).pointee
    }
}

/// Owns a primitive attribute (post-ops) for the duration of a primitive-descriptor creation.
final class DNNLAttributes {
    let attr: dnnl_primitive_attr_t

    /// Post-ops `activation` then either an in-place sum (`sum`) or, when `binaryAddend` is given, a binary add
    /// of a separate tensor with that descriptor (some kernels support only one of the two after an eltwise).
    init(activation: Activation, sum: Bool, binaryAddend: dnnl_memory_desc_t? = nil) throws {
        var a: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&a), "dnnl_primitive_attr_create")
        attr = a!
        var ops: dnnl_post_ops_t?
        try dnnlCheck(dnnl_post_ops_create(&ops), "dnnl_post_ops_create")
        defer { dnnl_post_ops_destroy(ops) }
        if activation != .identity {
            let (alg, alpha) = eltwiseAlgorithm(activation)
            try dnnlCheck(dnnl_post_ops_append_eltwise(ops, 1, alg, alpha, 0), "dnnl_post_ops_append_eltwise")
        }
        if sum { try dnnlCheck(dnnl_post_ops_append_sum(ops, 1), "dnnl_post_ops_append_sum") }
        if var addend = binaryAddend {
            try dnnlCheck(dnnl_post_ops_append_binary(ops, dnnl_binary_add, &addend), "dnnl_post_ops_append_binary")
        }
        try dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, ops), "dnnl_primitive_attr_set_post_ops")
    }

    deinit { dnnl_primitive_attr_destroy(attr) }
}

/// oneDNN's element-wise algorithm and alpha for an activation (identity maps to linear 1·x + 0).
func eltwiseAlgorithm(_ activation: Activation) -> (dnnl_alg_kind_t, Float) {
    switch activation {
    case .identity: return (dnnl_eltwise_linear, 1)
    case .relu: return (dnnl_eltwise_relu, 0)
    case .leakyRelu(let slope): return (dnnl_eltwise_relu, slope)
    case .elu(let alpha): return (dnnl_eltwise_elu, alpha)
    case .gelu: return (dnnl_eltwise_gelu_erf, 0)
    case .sigmoid: return (dnnl_eltwise_logistic, 0)
    case .tanh: return (dnnl_eltwise_tanh, 0)
    }
}
