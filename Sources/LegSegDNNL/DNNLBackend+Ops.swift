import CDNNL
import LegSegEngine

extension DNNLBackend {
    // MARK: Convolution and dense layers

    public func convolution(_ input: any DeviceTensor, weight: any DeviceTensor, bias: (any DeviceTensor)?,
                            geometry: ConvolutionGeometry, epilogue: Epilogue) throws -> any DeviceTensor {
        try convolutionLike(input, weight, bias, geometry, epilogue, transposed: false)
    }

    public func transposedConvolution(_ input: any DeviceTensor, weight: any DeviceTensor, bias: (any DeviceTensor)?,
                                      geometry: ConvolutionGeometry, epilogue: Epilogue) throws -> any DeviceTensor {
        try convolutionLike(input, weight, bias, geometry, epilogue, transposed: true)
    }

    private func convolutionLike(_ input: any DeviceTensor, _ weight: any DeviceTensor, _ bias: (any DeviceTensor)?,
                                 _ g: ConvolutionGeometry, _ epilogue: Epilogue, transposed: Bool) throws -> any DeviceTensor {
        let op = transposed ? "transposed convolution" : "convolution"
        let x = try cast(input, op), w = try cast(weight, op)
        let b = try bias.map { try cast($0, op) }
        let rank = g.spatialRank
        guard x.shape.count == rank + 2 else { throw EngineError.shape("\(op): input \(x.shape) does not have \(rank) spatial axes") }
        let wDims = w.md.dimensions  // [O, I, k...] for both (transposed weights were stored as io..)
        guard wDims.count == rank + 2, Array(wDims.dropFirst(2)) == g.kernel, wDims[1] == x.shape[1] else {
            throw EngineError.shape("\(op): weight \(w.shape) does not match input \(x.shape) and kernel \(g.kernel)")
        }
        let outputs = wDims[0]
        if let b, b.shape != [outputs] { throw EngineError.shape("\(op): bias \(b.shape) for \(outputs) outputs") }
        let spatial = Array(x.shape.dropFirst(2))
        let outSpatial = transposed ? try g.transposedOutput(spatial) : try g.convolutionOutput(spatial)
        let outShape = [x.shape[0], outputs] + outSpatial
        let residual = try epilogue.residual.map { try cast($0, op) }
        if let residual, residual.shape != outShape {
            throw EngineError.shape("\(op): residual \(residual.shape) does not match the output \(outShape)")
        }
        let type = dataType(x.precision)
        let outPrecision = residual?.precision ?? (epilogue.f32Output ? .f32 : x.precision)
        if !transposed, let y = try pairedNarrowConvolution(x, w, b, g, epilogue, residual, outShape) {
            return y
        }
        var key = CacheKey(op)
        key.add(x.md); key.add(wDims); key.add(type); key.add(b != nil); key.add(g.stride); key.add(g.padding); key.add(g.paddingEnd)
        key.add(g.dilation); key.add(g.outputPadding); key.add(epilogue.activation); key.add(residual?.md); key.add(outPrecision)
        let p = try convolutionPrimitive(key, x, wDims, type, b != nil, g, epilogue, residual, outShape, outPrecision,
                                         transposed: transposed, residualAsBinary: false)
        if let residual, p.isReference {
            // oneDNN 2.6's AVX2 convolution cannot fuse "activation then sum" (it would fall back to the reference
            // kernel, 40× slower) but can fuse "activation then binary add" into a fresh output.
            var binaryKey = key
            binaryKey.add("binary")
            let q = try convolutionPrimitive(binaryKey, x, wDims, type, b != nil, g, epilogue, residual, outShape,
                                             outPrecision, transposed: transposed, residualAsBinary: true)
            if !q.isReference {
                let src = try conform(x, to: q.md(dnnl_query_src_md), constant: false)
                let wts = try conform(w, to: q.md(dnnl_query_weights_md), constant: true)
                let out = try newTensor(outShape, outPrecision, q.md(dnnl_query_dst_md))
                var args: [(Int32, dnnl_memory_t)] = [(DNNL_ARG_SRC, src.memory), (DNNL_ARG_WEIGHTS, wts.memory),
                                                      (DNNL_ARG_DST, out.memory)]
                if let b { args.append((DNNL_ARG_BIAS, b.memory)) }
                let addendIndex: Int32 = epilogue.activation == .identity ? 0 : 1
                args.append((legseg_dnnl_arg_attr_multiple_post_op(addendIndex) | DNNL_ARG_SRC_1, residual.memory))
                try execute(q, args)
                roundToBF16(out)
                return out
            }
        }
        if let residual, p.isReference {
            // Neither fusion has a fast kernel: convolution with its activation, then a separate addition.
            var unfused = epilogue
            unfused.residual = nil
            let y = try convolutionLike(input, weight, bias, g, unfused, transposed: transposed)
            return try add(y, residual, activation: .identity)
        }
        if p.isReference { referenceConvolutionExecutions += 1 }
        let src = try conform(x, to: p.md(dnnl_query_src_md), constant: false)
        let wts = try conform(w, to: p.md(dnnl_query_weights_md), constant: true)
        let out = try residual ?? newTensor(outShape, outPrecision, p.md(dnnl_query_dst_md))
        var args: [(Int32, dnnl_memory_t)] = [(DNNL_ARG_SRC, src.memory), (DNNL_ARG_WEIGHTS, wts.memory), (DNNL_ARG_DST, out.memory)]
        if let b { args.append((DNNL_ARG_BIAS, b.memory)) }
        try execute(p, args)
        roundToBF16(out)
        return out
    }

    /// oneDNN's strides, dilations (0 = none) and left/right padding for `g`, for forward and backward descriptors.
    func convParams(_ g: ConvolutionGeometry) -> (strides: [Int64], dil: [Int64], padL: [Int64], padR: [Int64]) {
        (g.stride.map(Int64.init), g.dilation.map { Int64($0 - 1) }, g.padding.map(Int64.init),
         zip(g.paddingEnd, g.outputPadding).map { Int64($0 - $1) })
    }

    private func convolutionPrimitive(_ key: CacheKey, _ x: DNNLTensor, _ wDims: [Int], _ type: dnnl_data_type_t,
                                      _ hasBias: Bool, _ g: ConvolutionGeometry, _ epilogue: Epilogue,
                                      _ residual: DNNLTensor?, _ outShape: [Int], _ outPrecision: Precision,
                                      transposed: Bool, residualAsBinary: Bool) throws -> DNNLPrimitive {
        let op = transposed ? "transposed convolution" : "convolution"
        let outputs = wDims[0]
        let b: Bool? = hasBias ? true : nil
        return try primitive(key) {
            var src = anyMD(x.shape, type), wts = anyMD(wDims, type)
            var dst = residualAsBinary ? anyMD(outShape, dataType(outPrecision))
                                       : (residual?.md ?? anyMD(outShape, dataType(outPrecision)))
            var bmd = plainMD([outputs], dnnl_f32)
            let c = convParams(g)
            var desc = dnnl_convolution_desc_t()
            let status = withUnsafeMutablePointer(to: &bmd) { bp in
                transposed
                    ? dnnl_dilated_deconvolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_deconvolution_direct,
                                                                   &src, &wts, b == nil ? nil : bp, &dst, c.strides, c.dil, c.padL, c.padR)
                    : dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct,
                                                                 &src, &wts, b == nil ? nil : bp, &dst, c.strides, c.dil, c.padL, c.padR)
            }
            try dnnlCheck(status, "\(op) descriptor for input \(x.shape), weight \(wDims)")
            let attr = try DNNLAttributes(activation: epilogue.activation, sum: residual != nil && !residualAsBinary,
                                          binaryAddend: residualAsBinary ? residual?.md : nil)
            return try createPD(&desc, attr, "\(op) primitive for input \(x.shape), weight \(wDims)")
        }
    }

    public func dense(_ input: any DeviceTensor, weight: any DeviceTensor, bias: (any DeviceTensor)?,
                      epilogue: Epilogue) throws -> any DeviceTensor {
        let x = try cast(input, "dense"), w = try cast(weight, "dense")
        let b = try bias.map { try cast($0, "dense") }
        let features = x.shape.dropFirst().reduce(1, *)
        guard x.shape.count >= 2, w.shape.count == 2, w.shape[1] == features else {
            throw EngineError.shape("dense: weight \(w.shape) does not match input \(x.shape) (\(features) features)")
        }
        let outputs = w.shape[0]
        let outShape = [x.shape[0], outputs]
        let residual = try epilogue.residual.map { try cast($0, "dense") }
        if let residual, residual.shape != outShape { throw EngineError.shape("dense: residual \(residual.shape) vs output \(outShape)") }
        let type = dataType(x.precision)
        let outPrecision = residual?.precision ?? (epilogue.f32Output ? .f32 : x.precision)
        let xDims = x.md.dimensions
        let wDims = [outputs] + xDims.dropFirst()
        var key = CacheKey("dense")
        key.add(x.md); key.add(outputs); key.add(type); key.add(b != nil); key.add(epilogue.activation); key.add(residual?.md)
        key.add(outPrecision)
        let p = try primitive(key) {
            var src = x.md, wts = anyMD(wDims, type), dst = residual?.md ?? anyMD(outShape, dataType(outPrecision))
            var bmd = plainMD([outputs], dnnl_f32)
            var desc = dnnl_inner_product_desc_t()
            let status = withUnsafeMutablePointer(to: &bmd) { bp in
                dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &wts, b == nil ? nil : bp, &dst)
            }
            try dnnlCheck(status, "dense descriptor for input \(x.shape), weight \(w.shape)")
            let attr = try DNNLAttributes(activation: epilogue.activation, sum: residual != nil)
            return try createPD(&desc, attr, "dense primitive for input \(x.shape), weight \(w.shape)")
        }
        // The stored [O, K] weight seen as [O, C, spatial...] (PyTorch's flatten order is channel-major).
        let wanted = p.md(dnnl_query_weights_md)
        var variantKey = CacheKey("variant"); variantKey.add(wanted)
        let wts: DNNLTensor
        if let cached = w.variants[variantKey] {
            wts = cached
        } else {
            let view = xDims.count == 2 ? w : try DNNLTensor(view: plainMD(wDims, w.md.data_type), shape: w.shape, of: w, engine: engine)
            wts = try conform(view, to: wanted, constant: true)  // its copy from the constant pool, cached on `w` below
            if wts !== view { w.variants[variantKey] = wts }
        }
        let src = try conform(x, to: p.md(dnnl_query_src_md), constant: false)
        let out = try residual ?? newTensor(outShape, outPrecision, p.md(dnnl_query_dst_md))
        var args: [(Int32, dnnl_memory_t)] = [(DNNL_ARG_SRC, src.memory), (DNNL_ARG_WEIGHTS, wts.memory), (DNNL_ARG_DST, out.memory)]
        if let b { args.append((DNNL_ARG_BIAS, b.memory)) }
        try execute(p, args)
        roundToBF16(out)
        return out
    }

    // MARK: Normalisation

    public func batchNormalization(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                                   mean: any DeviceTensor, variance: any DeviceTensor, epsilon: Float) throws -> any DeviceTensor {
        let x = try cast(input, "batch norm")
        let vectors = try [scale, shift, mean, variance].map { try cast($0, "batch norm") }
        guard x.shape.count >= 2, vectors.allSatisfy({ $0.shape == [x.shape[1]] }) else {
            throw EngineError.shape("batch norm: parameters must have \(x.shape.count >= 2 ? x.shape[1] : 0) entries for input \(x.shape)")
        }
        let flags = dnnl_use_global_stats.rawValue | dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        let p = try normPrimitive(x.md, epsilon: epsilon, flags: flags, tag: "batchnorm")
        let out = try newTensor(x.shape, x.precision, x.md)
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DST, out.memory), (DNNL_ARG_SCALE, vectors[0].memory),
                        (DNNL_ARG_SHIFT, vectors[1].memory), (DNNL_ARG_MEAN, vectors[2].memory),
                        (DNNL_ARG_VARIANCE, vectors[3].memory)])
        roundToBF16(out)
        return out
    }

    public func instanceNormalization(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                                      epsilon: Float) throws -> any DeviceTensor {
        let x = try cast(input, "instance norm")
        let s = try cast(scale, "instance norm"), t = try cast(shift, "instance norm")
        guard x.shape.count >= 3, s.shape == [x.shape[1]], t.shape == [x.shape[1]] else {
            throw EngineError.shape("instance norm: scale/shift must have \(x.shape.count >= 2 ? x.shape[1] : 0) entries for input \(x.shape)")
        }
        // Batch norm computing its own statistics over one sample = instance norm of that sample.
        let out = try newTensor(x.shape, x.precision, x.md)
        let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        let dims = x.md.dimensions
        for n in 0..<dims[0] {
            var sub = dnnl_memory_desc_t()
            var parent = x.md
            var subDims = dims.map(Int64.init); subDims[0] = 1
            var offsets = [Int64](repeating: 0, count: dims.count); offsets[0] = Int64(n)
            try dnnlCheck(dnnl_memory_desc_init_submemory(&sub, &parent, subDims, offsets), "dnnl_memory_desc_init_submemory")
            // Samples are outermost in every layout oneDNN picks, so each is a dense block: address it by
            // pointer instead of offset0, which not every normalisation kernel honours.
            let byteOffset = Int(sub.offset0) * (x.md.data_type == dnnl_bf16 ? 2 : 4)
            sub.offset0 = 0
            let p = try normPrimitive(sub, epsilon: epsilon, flags: flags, tag: "instancenorm")
            var src: dnnl_memory_t?, dst: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&src, &sub, engine, x.pointer + byteOffset), "dnnl_memory_create (sample)")
            defer { dnnl_memory_destroy(src) }
            try dnnlCheck(dnnl_memory_create(&dst, &sub, engine, out.pointer + byteOffset), "dnnl_memory_create (sample)")
            defer { dnnl_memory_destroy(dst) }
            try execute(p, [(DNNL_ARG_SRC, src!), (DNNL_ARG_DST, dst!), (DNNL_ARG_SCALE, s.memory), (DNNL_ARG_SHIFT, t.memory)])
        }
        roundToBF16(out)
        return out
    }

    private func normPrimitive(_ md: dnnl_memory_desc_t, epsilon: Float, flags: UInt32, tag: String) throws -> DNNLPrimitive {
        var key = CacheKey(tag)
        key.add(md); key.add(epsilon); key.add(flags)
        return try primitive(key) {
            var data = md
            var desc = dnnl_batch_normalization_desc_t()
            try dnnlCheck(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference, &data, epsilon, flags),
                          "\(tag) descriptor")
            return try createPD(&desc, nil, "\(tag) primitive for \(md.dimensions)")
        }
    }

    // MARK: Element-wise, softmax, addition

    public func activation(_ input: any DeviceTensor, _ activation: Activation) throws -> any DeviceTensor {
        let x = try cast(input, "activation")
        if activation == .identity { return x }
        var key = CacheKey("eltwise")
        key.add(x.md); key.add(activation)
        let p = try primitive(key) {
            var data = x.md
            let (alg, alpha) = eltwiseAlgorithm(activation)
            var desc = dnnl_eltwise_desc_t()
            try dnnlCheck(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, alg, &data, alpha, 0), "eltwise descriptor")
            return try createPD(&desc, nil, "\(activation.name) primitive for \(x.shape)")
        }
        let out = try newTensor(x.shape, x.precision, x.md)
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DST, out.memory)])
        roundToBF16(out)
        return out
    }

    public func softmaxOverChannels(_ input: any DeviceTensor, precision: Precision) throws -> any DeviceTensor {
        let x = try cast(input, "softmax")
        guard x.shape.count >= 2 else { throw EngineError.shape("softmax: input \(x.shape) has no channel axis") }
        var outMD = x.md
        outMD.data_type = dataType(precision)
        var key = CacheKey("softmax")
        key.add(x.md); key.add(outMD)
        let p = try primitive(key) {
            var src = x.md, dst = outMD
            var desc = dnnl_softmax_v2_desc_t()
            try dnnlCheck(dnnl_softmax_v2_forward_desc_init(&desc, dnnl_forward_inference, dnnl_softmax_accurate, &src, &dst, 1),
                          "softmax descriptor")
            return try createPD(&desc, nil, "softmax primitive for \(x.shape)")
        }
        let out = try newTensor(x.shape, precision, outMD)
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DST, out.memory)])
        roundToBF16(out)
        return out
    }

    public func add(_ a: any DeviceTensor, _ b: any DeviceTensor, activation: Activation) throws -> any DeviceTensor {
        let x = try cast(a, "add"), y = try cast(b, "add")
        guard x.shape == y.shape else { throw EngineError.shape("add: shapes \(x.shape) and \(y.shape) differ") }
        var key = CacheKey("add")
        key.add(x.md); key.add(y.md); key.add(activation)
        let p = try primitive(key) {
            var s0 = x.md, s1 = y.md, d = x.md
            var desc = dnnl_binary_desc_t()
            try dnnlCheck(dnnl_binary_desc_init(&desc, dnnl_binary_add, &s0, &s1, &d), "binary add descriptor")
            let attr = try DNNLAttributes(activation: activation, sum: false)
            return try createPD(&desc, attr, "binary add primitive for \(x.shape)")
        }
        let out = try newTensor(x.shape, x.precision, x.md)
        try execute(p, [(DNNL_ARG_SRC_0, x.memory), (DNNL_ARG_SRC_1, y.memory), (DNNL_ARG_DST, out.memory)])
        roundToBF16(out)
        return out
    }

    // MARK: Pooling, resampling, concatenation

    public func pooling(_ input: any DeviceTensor, geometry g: PoolingGeometry) throws -> any DeviceTensor {
        let x = try cast(input, "pooling")
        guard x.shape.count == g.kernel.count + 2 else { throw EngineError.shape("pooling: input \(x.shape) vs window \(g.kernel)") }
        let outShape = Array(x.shape.prefix(2)) + (try g.output(Array(x.shape.dropFirst(2))))
        return try pool(x, kind: g.kind, kernel: g.kernel, stride: g.stride, padding: g.padding, outShape: outShape)
    }

    private func pool(_ x: DNNLTensor, kind: PoolingKind, kernel: [Int], stride: [Int], padding: [Int],
                      outShape: [Int]) throws -> DNNLTensor {
        let type = dataType(x.precision)
        var key = CacheKey("pool")
        key.add(x.md); key.add(kind); key.add(kernel); key.add(stride); key.add(padding)
        let p = try primitive(key) {
            var src = x.md, dst = anyMD(outShape, type)
            let alg = kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding
            let zeros = [Int64](repeating: 0, count: kernel.count)
            var desc = dnnl_pooling_v2_desc_t()
            try dnnlCheck(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, alg, &src, &dst,
                                                            stride.map(Int64.init), kernel.map(Int64.init), zeros,
                                                            padding.map(Int64.init), padding.map(Int64.init)),
                          "pooling descriptor for \(x.shape) window \(kernel)")
            return try createPD(&desc, nil, "pooling primitive for \(x.shape) window \(kernel)")
        }
        let out = try newTensor(outShape, x.precision, p.md(dnnl_query_dst_md))
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DST, out.memory)])
        roundToBF16(out)
        return out
    }

    public func globalAveragePooling(_ input: any DeviceTensor) throws -> any DeviceTensor {
        let x = try cast(input, "global average pooling")
        guard x.shape.count >= 3 else { throw EngineError.shape("global average pooling: input \(x.shape) has no spatial axes") }
        let spatial = Array(x.shape.dropFirst(2))
        let ones = [Int](repeating: 1, count: spatial.count)
        let pooled = try pool(x, kind: .average, kernel: spatial, stride: ones, padding: ones.map { _ in 0 },
                              outShape: Array(x.shape.prefix(2)) + ones)
        // Drop the unit spatial axes: a plain [N, C, 1...] buffer is also a plain [N, C] buffer.
        let plain = try conform(pooled, to: plainMD(pooled.md.dimensions, pooled.md.data_type), constant: false)
        return try DNNLTensor(view: plainMD(Array(x.shape.prefix(2)), plain.md.data_type), shape: Array(x.shape.prefix(2)),
                              of: plain, engine: engine)
    }

    public func upsample(_ input: any DeviceTensor, factors: [Int], mode: UpsamplingMode) throws -> any DeviceTensor {
        let x = try cast(input, "upsample")
        guard x.shape.count == factors.count + 2, factors.allSatisfy({ $0 >= 1 }) else {
            throw EngineError.shape("upsample: factors \(factors) for input \(x.shape)")
        }
        if factors.allSatisfy({ $0 == 1 }) { return x }
        let outShape = Array(x.shape.prefix(2)) + zip(x.shape.dropFirst(2), factors).map { $0 * $1 }
        var key = CacheKey("resample")
        key.add(x.md); key.add(factors); key.add(mode)
        let p = try primitive(key) {
            var src = x.md, dst = anyMD(outShape, x.md.data_type)
            var desc = dnnl_resampling_desc_t()
            let alg = mode == .nearest ? dnnl_resampling_nearest : dnnl_resampling_linear
            let f = factors.map(Float.init)
            try dnnlCheck(dnnl_resampling_forward_desc_init(&desc, dnnl_forward_inference, alg, f, &src, &dst),
                          "resampling descriptor for \(x.shape)")
            return try createPD(&desc, nil, "resampling primitive for \(x.shape)")
        }
        let out = try newTensor(outShape, x.precision, p.md(dnnl_query_dst_md))
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DST, out.memory)])
        roundToBF16(out)
        return out
    }

    public func concatenateChannels(_ inputs: [any DeviceTensor]) throws -> any DeviceTensor {
        let xs = try inputs.map { try cast($0, "concatenate") }
        guard let first = xs.first else { throw EngineError.shape("concatenate: no inputs") }
        for x in xs where x.shape.count != first.shape.count || x.shape[0] != first.shape[0]
            || x.shape.dropFirst(2) != first.shape.dropFirst(2) || x.precision != first.precision {
            throw EngineError.shape("concatenate: \(x.shape) does not match \(first.shape) outside the channel axis")
        }
        if xs.count == 1 { return first }
        var outShape = first.shape
        outShape[1] = xs.reduce(0) { $0 + $1.shape[1] }
        var key = CacheKey("concat")
        for x in xs { key.add(x.md) }
        let p = try primitive(key) {
            var mds = xs.map(\.md)
            var pd: dnnl_primitive_desc_t?
            try dnnlCheck(dnnl_concat_primitive_desc_create(&pd, nil, Int32(mds.count), 1, &mds, nil, engine),
                          "concat primitive for \(xs.map(\.shape))")
            return pd!
        }
        let out = try newTensor(outShape, first.precision, p.md(dnnl_query_dst_md))
        var args: [(Int32, dnnl_memory_t)] = [(DNNL_ARG_DST, out.memory)]
        for (i, x) in xs.enumerated() { args.append((DNNL_ARG_MULTIPLE_SRC + Int32(i), x.memory)) }
        try execute(p, args)
        return out
    }
}

// MARK: - Polyphase interleaving

extension DNNLBackend {
    /// Element strides, in logical `[N, C, spatial...]` order, of a dense channels-last tensor of `dims`.
    private func channelsLastStrides(_ dims: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: dims.count)
        var step = 1
        strides[1] = step; step *= dims[1]
        for a in stride(from: dims.count - 1, through: 2, by: -1) { strides[a] = step; step *= dims[a] }
        strides[0] = step
        return strides
    }

    /// A strided descriptor of `dims` inside a dense channels-last tensor of `whole` dims: channels from `channel`
    /// on, and every `factors`-th voxel from spatial `offset` on (one polyphase part, or a channel slice).
    private func sliceView(of whole: [Int], dims: [Int], channel: Int = 0, offset: [Int], factors: [Int],
                           type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        let wholeStrides = channelsLastStrides(whole)
        var strides = wholeStrides
        var offset0 = channel
        for a in factors.indices {
            strides[2 + a] *= factors[a]
            offset0 += offset[a] * wholeStrides[2 + a]
        }
        var md = dnnl_memory_desc_t()
        _ = dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), dims.map(Int64.init), type, strides.map(Int64.init))
        md.offset0 = Int64(offset0)
        return md
    }

    private func checkFactors(_ shape: [Int], _ factors: [Int], _ op: String) throws {
        guard shape.count == factors.count + 2, factors.allSatisfy({ $0 >= 1 }) else {
            throw EngineError.shape("\(op): factors \(factors) for \(shape)")
        }
    }

    public func interleave(_ phases: [any DeviceTensor], factors: [Int], after leading: [any DeviceTensor]) throws -> any DeviceTensor {
        let xs = try phases.map { try cast($0, "interleave") }
        guard let first = xs.first, xs.count == factors.reduce(1, *),
              xs.allSatisfy({ $0.shape == first.shape && $0.precision == first.precision }) else {
            throw EngineError.shape("interleave: \(factors.reduce(1, *)) phases of one shape expected for factors \(factors)")
        }
        try checkFactors(first.shape, factors, "interleave")
        let coarse = first.shape
        let fineSpatial = zip(coarse.dropFirst(2), factors).map { $0 * $1 }
        let lead = try leading.map { try cast($0, "interleave") }
        for t in lead where t.shape.count != coarse.count || t.shape[0] != coarse[0]
            || Array(t.shape.dropFirst(2)) != fineSpatial || t.precision != first.precision {
            throw EngineError.shape("interleave: leading \(t.shape) does not match the fine grid \(fineSpatial) of \(coarse)")
        }
        let leadChannels = lead.reduce(0) { $0 + $1.shape[1] }
        let whole = [coarse[0], leadChannels + coarse[1]] + fineSpatial
        let type = first.md.data_type
        let out = try newTensor(whole, first.precision, tagMD(whole, type, channelsLastTag(whole.count)))
        let ones = [Int](repeating: 1, count: factors.count), zeros = [Int](repeating: 0, count: factors.count)
        var channel = 0
        for t in lead {
            try writeView(t, sliceView(of: whole, dims: t.shape, channel: channel, offset: zeros, factors: ones, type: type), out)
            channel += t.shape[1]
        }
        for (phase, x) in zip(UpsampledConvolution.phases(factors: factors), xs) {
            try writeView(x, sliceView(of: whole, dims: coarse, channel: channel, offset: phase.offset, factors: factors, type: type), out)
        }
        return out
    }

    /// Copies `x` into the part `view` of `out`'s buffer.
    private func writeView(_ x: DNNLTensor, _ view: dnnl_memory_desc_t, _ out: DNNLTensor) throws {
        let target = try memoryView(view, out.pointer)
        defer { dnnl_memory_destroy(target) }
        try reorder(from: x.md, x.memory, to: view, target)
    }

    public func deinterleave(_ input: any DeviceTensor, factors: [Int]) throws -> [any DeviceTensor] {
        let x = try cast(input, "deinterleave")
        try checkFactors(x.shape, factors, "deinterleave")
        let fine = x.shape
        guard zip(fine.dropFirst(2), factors).allSatisfy({ $0 % $1 == 0 }) else {
            throw EngineError.shape("deinterleave: \(fine) is not a multiple of the factors \(factors)")
        }
        let coarse = Array(fine.prefix(2)) + zip(fine.dropFirst(2), factors).map { $0 / $1 }
        let type = x.md.data_type
        let dense = try conform(x, to: tagMD(fine, type, channelsLastTag(fine.count)), constant: false)
        return try UpsampledConvolution.phases(factors: factors).map { phase in
            let view = sliceView(of: fine, dims: coarse, offset: phase.offset, factors: factors, type: type)
            let out = try newTensor(coarse, x.precision, tagMD(coarse, type, channelsLastTag(coarse.count)))
            let source = try memoryView(view, dense.pointer)
            defer { dnnl_memory_destroy(source) }
            try reorder(from: view, source, to: out.md, out.memory)
            return out
        }
    }
}
