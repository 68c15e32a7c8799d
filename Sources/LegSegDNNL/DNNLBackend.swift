import CDNNL
import LegSegEngine

/// The oneDNN (2.x C API) CPU backend. Activations stay in whatever layout oneDNN's convolutions choose
/// (channels-last on AVX-512 machines, 8-channel blocks on AVX2) and are reordered only at the edges.
/// Primitives are created once per shape and cached; buffers are pooled. Threads: OpenMP (all cores unless
/// `OMP_NUM_THREADS` says otherwise).
///
/// Not thread-safe: use one backend per thread.
public final class DNNLBackend: Backend {
    public let name = "onednn-cpu"
    public private(set) var capabilities: BackendCapabilities

    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    let pool = BufferPool()
    /// Weights, biases and the layouts their primitives ask for: kept apart from activations, so a weight variant
    /// created during a pass never takes an activation buffer the next pass needs again.
    let constantPool = BufferPool()
    private var cache: [CacheKey: DNNLPrimitive] = [:]

    /// Primitive-cache statistics (deterministic counters for tests and benchmarks).
    public private(set) var primitivesCreated = 0
    public private(set) var primitiveCacheHits = 0
    /// Executions that ran one of oneDNN's reference (plain C++) kernels: a slow path worth knowing about.
    public internal(set) var referenceKernelExecutions = 0
    /// The same, for convolutions only (where a reference kernel costs 10–100× the time).
    public internal(set) var referenceConvolutionExecutions = 0
    /// Convolutions with ≤ 8 outputs run with neighbouring outputs paired into channels (`pairedNarrowConvolution`).
    /// On where oneDNN's vectors have 16 lanes and activations are channels-last (AVX-512); on AVX2 8 outputs
    /// already fill a vector. Tests set it to compare the two forms.
    public var pairsNarrowOutputs = DNNLBackend.isaName.hasPrefix("avx512")
    /// Convolutions that ran in the paired form.
    public internal(set) var pairedConvolutionExecutions = 0
    /// Bytes of pooled activation/weight memory allocated so far.
    public var pooledBytes: Int { pool.bytesHeld + constantPool.bytesHeld }

    public init() throws {
        var e: dnnl_engine_t?
        try dnnlCheck(dnnl_engine_create(&e, dnnl_cpu, 0), "dnnl_engine_create")
        engine = e!
        var s: dnnl_stream_t?
        try dnnlCheck(dnnl_stream_create(&s, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
        stream = s!
        capabilities = BackendCapabilities(nativeBF16: false, fusedEpilogue: true, device: "")
        capabilities = BackendCapabilities(nativeBF16: probeBF16(), fusedEpilogue: true,
                                           device: "CPU \(Self.isaName), oneDNN \(DNNLRuntime.version)")
    }

    deinit {
        cache.removeAll()
        pool.trim()
        constantPool.trim()
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    /// The instruction set oneDNN dispatches to on this CPU.
    public static var isaName: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_sse41: return "sse41"
        default: return "isa \(dnnl_get_effective_cpu_isa().rawValue)"
        }
    }

    /// Drops cached primitives and pooled memory (tensors still alive keep theirs).
    public func releaseCaches() {
        cache.removeAll()
        pool.trim()
        constantPool.trim()
    }

    /// True when oneDNN has a bf16 convolution kernel here (AVX-512 and newer in oneDNN 2.6).
    private func probeBF16() -> Bool {
        let x = anyMD([1, 16, 8, 8], dnnl_bf16)
        let w = anyMD([16, 16, 3, 3], dnnl_bf16)
        var desc = dnnl_convolution_desc_t()
        var xs = x, ws = w, ds = x
        let st: [Int64] = [1, 1], pad: [Int64] = [1, 1]
        guard dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &xs, &ws, nil,
                                                 &ds, st, pad, pad) == dnnl_success else { return false }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &desc, nil, engine, nil) == dnnl_success else { return false }
        dnnl_primitive_desc_destroy(pd)
        return true
    }

    // MARK: - Memory descriptors

    func dataType(_ precision: Precision) -> dnnl_data_type_t {
        precision == .bf16 && capabilities.nativeBF16 ? dnnl_bf16 : dnnl_f32
    }

    /// bf16 requested but not available: values are kept in f32 and rounded to bf16 after every op.
    func emulates(_ precision: Precision) -> Bool { precision == .bf16 && !capabilities.nativeBF16 }

    func plainMD(_ dims: [Int], _ type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let tags: [dnnl_format_tag_t] = [dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef]
        _ = dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), type, tags[dims.count])
        return md
    }

    func anyMD(_ dims: [Int], _ type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        _ = dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), type, dnnl_format_tag_any)
        return md
    }

    func tagMD(_ dims: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        _ = dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), type, tag)
        return md
    }

    func newTensor(_ shape: [Int], _ precision: Precision, _ md: dnnl_memory_desc_t, constant: Bool = false) throws -> DNNLTensor {
        try DNNLTensor(shape: shape, precision: precision, md: md, engine: engine, pool: constant ? constantPool : pool)
    }

    func cast(_ t: any DeviceTensor, _ what: String) throws -> DNNLTensor {
        guard let d = t as? DNNLTensor else { throw EngineError.backend("\(what): tensor was not created by the oneDNN backend") }
        return d
    }

    // MARK: - Primitive cache and execution

    func primitive(_ key: CacheKey, _ make: () throws -> dnnl_primitive_desc_t) throws -> DNNLPrimitive {
        if let p = cache[key] { primitiveCacheHits += 1; return p }
        let p = try DNNLPrimitive(descriptor: try make())
        cache[key] = p
        primitivesCreated += 1
        return p
    }

    func execute(_ p: DNNLPrimitive, _ args: [(Int32, dnnl_memory_t)]) throws {
        if p.isReference { referenceKernelExecutions += 1 }
        let execArgs = args.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        try dnnlCheck(dnnl_primitive_execute(p.primitive, stream, Int32(execArgs.count), execArgs), "dnnl_primitive_execute")
        try dnnlCheck(dnnl_stream_wait(stream), "dnnl_stream_wait")
    }

    func createPD<D>(_ desc: inout D, _ attr: DNNLAttributes?, _ what: String) throws -> dnnl_primitive_desc_t {
        var pd: dnnl_primitive_desc_t?
        let status = withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), attr?.attr, engine, nil) }
        try dnnlCheck(status, what)
        return pd!
    }

    /// Copies `source` into a new tensor with descriptor `target` (cached reorder primitive), labelled
    /// `precision` (default: the source's; give it when `target` changes the data type).
    func reorder(_ source: DNNLTensor, to target: dnnl_memory_desc_t, precision: Precision? = nil,
                 constant: Bool = false) throws -> DNNLTensor {
        let out = try newTensor(source.shape, precision ?? source.precision, target, constant: constant)
        try reorder(from: source.md, source.memory, to: out.md, out.memory)
        return out
    }

    /// A memory object for `md` over `pointer` (not owned: the caller destroys it, the buffer stays its owner's).
    func memoryView(_ md: dnnl_memory_desc_t, _ pointer: UnsafeMutableRawPointer) throws -> dnnl_memory_t {
        var desc = md
        var mem: dnnl_memory_t?
        try dnnlCheck(dnnl_memory_create(&mem, &desc, engine, pointer), "dnnl_memory_create (view)")
        return mem!
    }

    func reorder(from srcMD: dnnl_memory_desc_t, _ src: dnnl_memory_t, to dstMD: dnnl_memory_desc_t, _ dst: dnnl_memory_t) throws {
        var key = CacheKey("reorder")
        key.add(srcMD); key.add(dstMD)
        let p = try primitive(key) {
            var s = srcMD, d = dstMD
            var pd: dnnl_primitive_desc_t?
            try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &s, engine, &d, engine, nil), "dnnl_reorder_primitive_desc_create")
            return pd!
        }
        try execute(p, [(DNNL_ARG_FROM, src), (DNNL_ARG_TO, dst)])
    }

    /// `t` in layout `md`: itself when equal, otherwise a reordered copy (kept on constant tensors).
    func conform(_ t: DNNLTensor, to md: dnnl_memory_desc_t, constant: Bool) throws -> DNNLTensor {
        var a = t.md, b = md
        if dnnl_memory_desc_equal(&a, &b) != 0 { return t }
        guard constant else { return try reorder(t, to: md) }
        var key = CacheKey("variant"); key.add(md)
        return try t.variant(key) { try reorder(t, to: md, constant: true) }
    }

    /// Rounds an f32 tensor's values to bf16 in place (bf16 emulation on CPUs without bf16 kernels).
    func roundToBF16(_ t: DNNLTensor) {
        guard emulates(t.precision) else { return }
        let n = t.byteCount / 4
        let p = t.pointer.assumingMemoryBound(to: UInt32.self)
        for i in 0..<n {
            let bits = p[i]
            if (bits & 0x7F80_0000) == 0x7F80_0000 { continue }  // inf/NaN unchanged
            p[i] = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
        }
    }

    // MARK: - Host transfer

    public func upload(_ tensor: HostTensor, role: TensorRole, precision: Precision) throws -> any DeviceTensor {
        let p: Precision = role == .vector ? .f32 : precision
        var dims = tensor.shape
        var hostMD = plainMD(dims, dnnl_f32)
        if role == .transposedConvolutionWeight {
            // PyTorch stores [I, O, k...]; oneDNN's logical weight dims are [O, I, k...] with physical "io..." order.
            guard dims.count >= 3 else { throw EngineError.shape("transposed convolution weight \(dims) needs ≥ 3 axes") }
            dims.swapAt(0, 1)
            hostMD = tagMD(dims, dnnl_f32, dims.count == 4 ? dnnl_iohw : (dims.count == 5 ? dnnl_iodhw : dnnl_iwo))
        }
        let target = role == .transposedConvolutionWeight ? { var m = hostMD; m.data_type = dataType(p); return m }()
                                                          : plainMD(dims, dataType(p))
        let out = try newTensor(dims, p, target, constant: role != .activation)
        var values = tensor.data
        if emulates(p) { for i in values.indices { values[i] = HalfFloat.roundedToBF16(values[i]) } }
        try values.withUnsafeMutableBytes { raw in
            var mem: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&mem, &hostMD, engine, raw.baseAddress), "dnnl_memory_create (host)")
            defer { dnnl_memory_destroy(mem) }
            try reorder(from: hostMD, mem!, to: out.md, out.memory)
        }
        return out
    }

    public func download(_ tensor: any DeviceTensor) throws -> HostTensor {
        let t = try cast(tensor, "download")
        var result = HostTensor(zeros: t.shape)
        var hostMD = plainMD(t.md.dimensions, dnnl_f32)
        try result.data.withUnsafeMutableBytes { raw in
            var mem: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&mem, &hostMD, engine, raw.baseAddress), "dnnl_memory_create (host)")
            defer { dnnl_memory_destroy(mem) }
            try reorder(from: t.md, t.memory, to: hostMD, mem!)
        }
        return result
    }
}
