import CDNNL
import LegSegEngine

/// Memory recycled between tensors of equal byte size: intermediate activations of a forward pass come and go
/// in the same sizes every patch, so after the first patch nothing is allocated.
final class BufferPool {
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private(set) var bytesHeld = 0

    func take(_ size: Int) -> UnsafeMutableRawPointer {
        if var list = free[size], let p = list.popLast() {
            free[size] = list
            return p
        }
        bytesHeld += size
        return UnsafeMutableRawPointer.allocate(byteCount: max(size, 64), alignment: 64)
    }

    func give(_ pointer: UnsafeMutableRawPointer, size: Int) {
        free[size, default: []].append(pointer)
    }

    /// Releases every pooled buffer (tensors still alive keep theirs).
    func trim() {
        for (size, list) in free {
            for p in list { p.deallocate(); bytesHeld -= size }
        }
        free = [:]
    }

    deinit { trim() }
}

/// A tensor in oneDNN memory: a memory descriptor (any layout oneDNN chose) plus a pooled buffer.
final class DNNLTensor: DeviceTensor {
    let shape: [Int]
    let precision: Precision
    let md: dnnl_memory_desc_t
    let memory: dnnl_memory_t
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
    private let pool: BufferPool?
    /// Constant tensors (weights) keep the layouts primitives asked for, keyed by descriptor bytes.
    var variants: [CacheKey: DNNLTensor] = [:]

    /// The variant under `key`, made by `make` the first time.
    func variant(_ key: CacheKey, _ make: () throws -> DNNLTensor) rethrows -> DNNLTensor {
        if let v = variants[key] { return v }
        let v = try make()
        variants[key] = v
        return v
    }

    init(shape: [Int], precision: Precision, md: dnnl_memory_desc_t, engine: dnnl_engine_t, pool: BufferPool) throws {
        var desc = md
        let size = dnnl_memory_desc_get_size(&desc)
        let p = pool.take(size)
        var mem: dnnl_memory_t?
        let status = dnnl_memory_create(&mem, &desc, engine, p)
        guard status == dnnl_success, let mem else {
            pool.give(p, size: size)
            throw EngineError.backend("dnnl_memory_create failed with \(statusName(status))")
        }
        self.shape = shape
        self.precision = precision
        self.md = desc
        self.memory = mem
        self.pointer = p
        self.byteCount = size
        self.pool = pool
    }

    /// A second descriptor over the same buffer (reshape); keeps `base` alive.
    init(view md: dnnl_memory_desc_t, shape: [Int], of base: DNNLTensor, engine: dnnl_engine_t) throws {
        var desc = md
        var mem: dnnl_memory_t?
        try dnnlCheck(dnnl_memory_create(&mem, &desc, engine, base.pointer), "dnnl_memory_create (view)")
        self.shape = shape
        self.precision = base.precision
        self.md = desc
        self.memory = mem!
        self.pointer = base.pointer
        self.byteCount = base.byteCount
        self.pool = nil
        self.viewBase = base
    }

    private var viewBase: DNNLTensor?

    deinit {
        dnnl_memory_destroy(memory)
        if viewBase == nil { pool?.give(pointer, size: byteCount) }
    }
}

extension dnnl_memory_desc_t {
    var dimensions: [Int] {
        var d = dims
        let n = Int(ndims)
        return withUnsafeBytes(of: &d) { raw in (0..<n).map { Int(raw.load(fromByteOffset: 8 * $0, as: Int64.self)) } }
    }
}
