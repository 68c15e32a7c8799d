import CDNNL
import LegSegEngine

/// oneDNN's backward primitives (training). Each backward primitive is created with a forward-training
/// primitive descriptor as its hint, as oneDNN requires; both are cached by shape like the forward ones.
/// Weight and bias gradients are always f32 (master weights are f32); data gradients take the input precision.
extension DNNLBackend: TrainingBackend {
    // MARK: Helpers

    /// Creates a primitive descriptor for `desc` with an optional forward hint.
    func createPD<D>(_ desc: inout D, hint: dnnl_primitive_desc_t?, _ what: String) throws -> dnnl_primitive_desc_t {
        var pd: dnnl_primitive_desc_t?
        let status = withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), nil, engine, hint) }
        try dnnlCheck(status, what)
        return pd!
    }

    /// A plain (row-major) f32 tensor with the same values as `t`.
    func plainF32(_ t: DNNLTensor) throws -> DNNLTensor {
        let md = plainMD(t.md.dimensions, dnnl_f32)
        var a = t.md, b = md
        if dnnl_memory_desc_equal(&a, &b) != 0 { return t }
        let out = try newTensor(t.shape, t.precision == .bf16 ? .f32 : t.precision, md)
        try reorder(from: t.md, t.memory, to: out.md, out.memory)
        return out
    }

    /// `t`'s buffer seen under a plain descriptor of other dimensions with the same element count.
    func plainView(_ t: DNNLTensor, dims: [Int], shape: [Int]) throws -> DNNLTensor {
        let plain = try conform(t, to: plainMD(t.md.dimensions, t.md.data_type), constant: false)
        return try DNNLTensor(view: plainMD(dims, plain.md.data_type), shape: shape, of: plain, engine: engine)
    }

    /// Forward-training descriptor of a (transposed) convolution, used as the hint of its backward primitives.
    private func convForwardHint(src: [Int], wDims: [Int], dst: [Int], g: ConvolutionGeometry, type: dnnl_data_type_t,
                                 bias: Bool, transposed: Bool) throws -> dnnl_primitive_desc_t {
        var s = anyMD(src, type), w = anyMD(wDims, type), d = anyMD(dst, type)
        var b = plainMD([wDims[0]], dnnl_f32)
        let c = convParams(g)
        var desc = dnnl_convolution_desc_t()
        let status = withUnsafeMutablePointer(to: &b) { bp in
            transposed
                ? dnnl_dilated_deconvolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_deconvolution_direct,
                                                               &s, &w, bias ? bp : nil, &d, c.strides, c.dil, c.padL, c.padR)
                : dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct,
                                                             &s, &w, bias ? bp : nil, &d, c.strides, c.dil, c.padL, c.padR)
        }
        try dnnlCheck(status, "forward-training hint for \(src) weight \(wDims)")
        return try createPD(&desc, hint: nil, "forward-training hint primitive for \(src) weight \(wDims)")
    }

    /// oneDNN's name of the kernel a primitive descriptor chose (e.g. "jit:avx2", "gemm:jit", "ref:any").
    func implementationName(_ pd: dnnl_primitive_desc_t) -> String {
        var name: UnsafePointer<CChar>?
        guard dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success, let name else { return "" }
        return String(cString: name)
    }

    /// Channels-last format tag for a tensor of `rank` axes (`[N, C, spatial...]` stored `[N, spatial..., C]`).
    func channelsLastTag(_ rank: Int) -> dnnl_format_tag_t {
        switch rank {
        case 3: return dnnl_acb
        case 4: return dnnl_acdb
        case 5: return dnnl_acdeb
        default: return dnnl_ab
        }
    }

    // MARK: Convolutions

    /// Layouts tried, in order, for the activations of backward convolutions. The forward pass keeps
    /// activations channels-last (what oneDNN's fastest forward kernels use), so a backward kernel that takes
    /// channels-last saves two or three reorders of full-size tensors per layer; next the layouts the
    /// forward-training hint picked (blocked); last whatever oneDNN chooses.
    enum BackwardLayouts: CaseIterable {
        case channelsLast, hint, any

        /// Whether a kernel found for these layouts is worth taking over the next candidate: channels-last only
        /// with an optimised direct kernel (not GEMM or the reference one), the hint without the reference kernel.
        func accepts(_ implementation: String) -> Bool {
            switch self {
            case .channelsLast: return !isReferenceKernel(implementation) && !implementation.contains("gemm")
            case .hint: return !isReferenceKernel(implementation)
            case .any: return true
            }
        }
    }

    /// Descriptors of a backward convolution's input-side and output-side activations for `layouts`.
    private func backwardMDs(_ layouts: BackwardLayouts, hint: dnnl_primitive_desc_t, input: [Int], output: [Int],
                             type: dnnl_data_type_t) -> (input: dnnl_memory_desc_t, output: dnnl_memory_desc_t) {
        switch layouts {
        case .channelsLast:
            return (tagMD(input, type, channelsLastTag(input.count)), tagMD(output, type, channelsLastTag(output.count)))
        case .hint:
            return (dnnl_primitive_desc_query_md(hint, dnnl_query_src_md, 0).pointee,
                    dnnl_primitive_desc_query_md(hint, dnnl_query_dst_md, 0).pointee)
        case .any:
            return (anyMD(input, type), anyMD(output, type))
        }
    }

    public func convolutionBackwardData(_ gradOutput: any DeviceTensor, weight: any DeviceTensor, inputShape: [Int],
                                        geometry: ConvolutionGeometry) throws -> any DeviceTensor {
        try convBackwardData(gradOutput, weight, inputShape, geometry, transposed: false)
    }

    public func transposedConvolutionBackwardData(_ gradOutput: any DeviceTensor, weight: any DeviceTensor, inputShape: [Int],
                                                  geometry: ConvolutionGeometry) throws -> any DeviceTensor {
        try convBackwardData(gradOutput, weight, inputShape, geometry, transposed: true)
    }

    private func convBackwardData(_ gradOutput: any DeviceTensor, _ weight: any DeviceTensor, _ inputShape: [Int],
                                  _ g: ConvolutionGeometry, transposed: Bool) throws -> any DeviceTensor {
        let op = transposed ? "transposed convolution backward data" : "convolution backward data"
        let dy = try cast(gradOutput, op), w = try cast(weight, op)
        let wDims = w.md.dimensions
        guard wDims.count == inputShape.count, wDims[1] == inputShape[1], dy.shape[1] == wDims[0] else {
            throw EngineError.shape("\(op): weight \(wDims) does not match input \(inputShape) and gradient \(dy.shape)")
        }
        let type = dataType(dy.precision)
        var key = CacheKey(op)
        key.add(dy.md); key.add(wDims); key.add(inputShape); key.add(type); key.add(g.stride); key.add(g.padding); key.add(g.paddingEnd)
        key.add(g.dilation); key.add(g.outputPadding)
        let p = try primitive(key) {
            let hint = try convForwardHint(src: inputShape, wDims: wDims, dst: dy.shape, g: g, type: type, bias: false,
                                           transposed: transposed)
            defer { dnnl_primitive_desc_destroy(hint) }
            // `BackwardLayouts` order: channels-last, the hint's (blocked) layouts, then oneDNN's choice (where only
            // the reference kernel takes the others, e.g. strided 3D on AVX2).
            for layouts in BackwardLayouts.allCases {
                var (dx, ddst) = backwardMDs(layouts, hint: hint, input: inputShape, output: dy.shape, type: type)
                var wts = anyMD(wDims, type)
                let c = convParams(g)
                var desc = dnnl_convolution_desc_t()
                let status = transposed
                    ? dnnl_dilated_deconvolution_backward_data_desc_init(&desc, dnnl_deconvolution_direct, &dx, &wts, &ddst,
                                                                         c.strides, c.dil, c.padL, c.padR)
                    : dnnl_dilated_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &dx, &wts, &ddst,
                                                                       c.strides, c.dil, c.padL, c.padR)
                try dnnlCheck(status, "\(op) descriptor for input \(inputShape)")
                guard let pd = try? createPD(&desc, hint: hint, "\(op) primitive for input \(inputShape), weight \(wDims)") else {
                    if layouts == .any { throw EngineError.backend("\(op): no primitive for input \(inputShape)") }
                    continue
                }
                if !layouts.accepts(implementationName(pd)) {
                    dnnl_primitive_desc_destroy(pd)
                    continue
                }
                return pd
            }
            throw EngineError.backend("\(op): no primitive for input \(inputShape)")
        }
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let wts = try conform(w, to: p.md(dnnl_query_weights_md), constant: false)
        let out = try newTensor(inputShape, dy.precision, p.md(dnnl_query_diff_src_md))
        try execute(p, [(DNNL_ARG_DIFF_DST, dd.memory), (DNNL_ARG_WEIGHTS, wts.memory), (DNNL_ARG_DIFF_SRC, out.memory)])
        roundToBF16(out)
        return out
    }

    public func convolutionBackwardWeights(_ input: any DeviceTensor, gradOutput: any DeviceTensor, weightShape: [Int],
                                           geometry: ConvolutionGeometry, bias: Bool) throws -> (weight: any DeviceTensor, bias: (any DeviceTensor)?) {
        try convBackwardWeights(input, gradOutput, weightShape, geometry, bias, transposed: false)
    }

    public func transposedConvolutionBackwardWeights(_ input: any DeviceTensor, gradOutput: any DeviceTensor, weightShape: [Int],
                                                     geometry: ConvolutionGeometry, bias: Bool) throws -> (weight: any DeviceTensor, bias: (any DeviceTensor)?) {
        try convBackwardWeights(input, gradOutput, weightShape, geometry, bias, transposed: true)
    }

    private func convBackwardWeights(_ input: any DeviceTensor, _ gradOutput: any DeviceTensor, _ weightShape: [Int],
                                     _ g: ConvolutionGeometry, _ bias: Bool, transposed: Bool) throws
        -> (weight: any DeviceTensor, bias: (any DeviceTensor)?) {
        let op = transposed ? "transposed convolution backward weights" : "convolution backward weights"
        let x = try cast(input, op), dy = try cast(gradOutput, op)
        // oneDNN's logical weight dims are [O, I, k...] for both; PyTorch's transposed weights are [I, O, k...].
        var wDims = weightShape
        if transposed { wDims.swapAt(0, 1) }
        guard wDims.count == x.shape.count, wDims[1] == x.shape[1], wDims[0] == dy.shape[1] else {
            throw EngineError.shape("\(op): weight \(weightShape) does not match input \(x.shape) and gradient \(dy.shape)")
        }
        let type = dataType(x.precision)
        var key = CacheKey(op)
        key.add(x.md); key.add(dy.md); key.add(wDims); key.add(type); key.add(bias); key.add(g.stride); key.add(g.padding); key.add(g.paddingEnd)
        key.add(g.dilation); key.add(g.outputPadding)
        let p = try primitive(key) {
            let hint = try convForwardHint(src: x.shape, wDims: wDims, dst: dy.shape, g: g, type: type, bias: bias,
                                           transposed: transposed)
            defer { dnnl_primitive_desc_destroy(hint) }
            // `BackwardLayouts` order; the last (oneDNN's choice) is GEMM on plain layouts where nothing else takes
            // the others (AVX2 has no 3D direct backward-weights kernel in oneDNN 2.6).
            for layouts in BackwardLayouts.allCases {
                var (src, ddst) = backwardMDs(layouts, hint: hint, input: x.shape, output: dy.shape, type: type)
                var dw = anyMD(wDims, dnnl_f32)
                var db = plainMD([wDims[0]], dnnl_f32)
                let c = convParams(g)
                var desc = dnnl_convolution_desc_t()
                let status = withUnsafeMutablePointer(to: &db) { bp in
                    transposed
                        ? dnnl_dilated_deconvolution_backward_weights_desc_init(&desc, dnnl_deconvolution_direct, &src, &dw,
                                                                                bias ? bp : nil, &ddst, c.strides, c.dil, c.padL, c.padR)
                        : dnnl_dilated_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &src, &dw,
                                                                              bias ? bp : nil, &ddst, c.strides, c.dil, c.padL, c.padR)
                }
                try dnnlCheck(status, "\(op) descriptor for input \(x.shape)")
                guard let pd = try? createPD(&desc, hint: hint, "\(op) primitive for input \(x.shape), weight \(wDims)") else {
                    if layouts == .any { throw EngineError.backend("\(op): no primitive for input \(x.shape)") }
                    continue
                }
                if !layouts.accepts(implementationName(pd)) {
                    dnnl_primitive_desc_destroy(pd)
                    continue
                }
                return pd
            }
            throw EngineError.backend("\(op): no primitive for input \(x.shape)")
        }
        let src = try conform(x, to: p.md(dnnl_query_src_md), constant: false)
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let dw = try newTensor(wDims, .f32, p.md(dnnl_query_diff_weights_md))
        var args: [(Int32, dnnl_memory_t)] = [(DNNL_ARG_SRC, src.memory), (DNNL_ARG_DIFF_DST, dd.memory),
                                              (DNNL_ARG_DIFF_WEIGHTS, dw.memory)]
        var db: DNNLTensor?
        if bias {
            db = try newTensor([wDims[0]], .f32, plainMD([wDims[0]], dnnl_f32))
            args.append((DNNL_ARG_DIFF_BIAS, db!.memory))
        }
        try execute(p, args)
        guard transposed else { return (dw, db) }
        // Back to PyTorch's [I, O, k...] order: physical "io..." layout, then a plain view of it.
        let ioTag = wDims.count == 4 ? dnnl_iohw : (wDims.count == 5 ? dnnl_iodhw : dnnl_iwo)
        let io = try reorder(dw, to: tagMD(wDims, dnnl_f32, ioTag))
        return (try DNNLTensor(view: plainMD(weightShape, dnnl_f32), shape: weightShape, of: io, engine: engine), db)
    }

    // MARK: Dense

    public func denseBackwardData(_ gradOutput: any DeviceTensor, weight: any DeviceTensor, inputShape: [Int]) throws -> any DeviceTensor {
        let dy = try cast(gradOutput, "dense backward data"), w = try cast(weight, "dense backward data")
        let features = inputShape.dropFirst().reduce(1, *)
        guard w.shape.count == 2, w.shape[1] == features, dy.shape == [inputShape[0], w.shape[0]] else {
            throw EngineError.shape("dense backward data: weight \(w.shape), gradient \(dy.shape), input \(inputShape)")
        }
        let type = dataType(dy.precision)
        let wDims = [w.shape[0]] + inputShape.dropFirst()
        var key = CacheKey("dense backward data")
        key.add(dy.md); key.add(inputShape); key.add(type)
        let p = try primitive(key) {
            var s = anyMD(inputShape, type), wt = anyMD(wDims, type), d = anyMD(dy.shape, type)
            var fdesc = dnnl_inner_product_desc_t()
            try dnnlCheck(dnnl_inner_product_forward_desc_init(&fdesc, dnnl_forward_training, &s, &wt, nil, &d), "dense hint")
            let hint = try createPD(&fdesc, hint: nil, "dense hint primitive")
            defer { dnnl_primitive_desc_destroy(hint) }
            var desc = dnnl_inner_product_desc_t()
            try dnnlCheck(dnnl_inner_product_backward_data_desc_init(&desc, &s, &wt, &d), "dense backward data descriptor")
            return try createPD(&desc, hint: hint, "dense backward data primitive for \(inputShape)")
        }
        let wView = inputShape.count == 2 ? w : try DNNLTensor(view: plainMD(wDims, w.md.data_type), shape: w.shape, of: w, engine: engine)
        let wts = try conform(wView, to: p.md(dnnl_query_weights_md), constant: false)
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let out = try newTensor(inputShape, dy.precision, p.md(dnnl_query_diff_src_md))
        try execute(p, [(DNNL_ARG_DIFF_DST, dd.memory), (DNNL_ARG_WEIGHTS, wts.memory), (DNNL_ARG_DIFF_SRC, out.memory)])
        roundToBF16(out)
        return out
    }

    public func denseBackwardWeights(_ input: any DeviceTensor, gradOutput: any DeviceTensor, bias: Bool) throws
        -> (weight: any DeviceTensor, bias: (any DeviceTensor)?) {
        let x = try cast(input, "dense backward weights"), dy = try cast(gradOutput, "dense backward weights")
        let outputs = dy.shape[1]
        let features = x.shape.dropFirst().reduce(1, *)
        let wDims = [outputs] + x.shape.dropFirst()
        let type = dataType(x.precision)
        var key = CacheKey("dense backward weights")
        key.add(x.md); key.add(dy.md); key.add(type); key.add(bias)
        let p = try primitive(key) {
            var s = anyMD(x.shape, type), wt = anyMD(wDims, type), d = anyMD(dy.shape, type)
            var b = plainMD([outputs], dnnl_f32)
            var fdesc = dnnl_inner_product_desc_t()
            try withUnsafeMutablePointer(to: &b) { bp in
                try dnnlCheck(dnnl_inner_product_forward_desc_init(&fdesc, dnnl_forward_training, &s, &wt, bias ? bp : nil, &d),
                              "dense hint")
            }
            let hint = try createPD(&fdesc, hint: nil, "dense hint primitive")
            defer { dnnl_primitive_desc_destroy(hint) }
            var dw = anyMD(wDims, dnnl_f32)
            var desc = dnnl_inner_product_desc_t()
            try withUnsafeMutablePointer(to: &b) { bp in
                try dnnlCheck(dnnl_inner_product_backward_weights_desc_init(&desc, &s, &dw, bias ? bp : nil, &d),
                              "dense backward weights descriptor")
            }
            return try createPD(&desc, hint: hint, "dense backward weights primitive for \(x.shape)")
        }
        let src = try conform(x, to: p.md(dnnl_query_src_md), constant: false)
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let dw = try newTensor(wDims, .f32, p.md(dnnl_query_diff_weights_md))
        var args: [(Int32, dnnl_memory_t)] = [(DNNL_ARG_SRC, src.memory), (DNNL_ARG_DIFF_DST, dd.memory),
                                              (DNNL_ARG_DIFF_WEIGHTS, dw.memory)]
        var db: DNNLTensor?
        if bias {
            db = try newTensor([outputs], .f32, plainMD([outputs], dnnl_f32))
            args.append((DNNL_ARG_DIFF_BIAS, db!.memory))
        }
        try execute(p, args)
        // [O, C, spatial...] in channel-major order is the [O, K] matrix of the flattened input.
        let plain = try plainF32(dw)
        let weight = try DNNLTensor(view: plainMD([outputs, features], dnnl_f32), shape: [outputs, features], of: plain, engine: engine)
        return (weight, db)
    }

    // MARK: Batch normalisation

    // oneDNN 2.6 has bf16 batch-norm kernels only for channel counts that are multiples of 16; others fall to the
    // reference kernel (about 30× slower: 0.55 s of a small-UNet bf16 step for its 8-channel layers). Those run
    // in f32 on an f32 copy instead, then convert back.

    /// An f32 copy of a bf16 tensor in the same layout.
    private func toF32(_ t: DNNLTensor) throws -> DNNLTensor {
        var md = t.md
        md.data_type = dnnl_f32
        return try reorder(t, to: md, precision: .f32)
    }

    private func batchNormForwardTrainingPD(_ md: dnnl_memory_desc_t, epsilon: Float) throws -> dnnl_primitive_desc_t {
        var data = md
        var desc = dnnl_batch_normalization_desc_t()
        let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
        try dnnlCheck(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &data, epsilon, flags),
                      "batch norm (training) descriptor")
        return try createPD(&desc, hint: nil, "batch norm (training) primitive for \(md.dimensions)")
    }

    public func batchNormalizationTraining(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                                           epsilon: Float) throws -> (output: any DeviceTensor, mean: any DeviceTensor, variance: any DeviceTensor) {
        let x = try cast(input, "batch norm (training)")
        let s = try cast(scale, "batch norm (training)"), t = try cast(shift, "batch norm (training)")
        let c = x.shape[1]
        guard s.shape == [c], t.shape == [c] else { throw EngineError.shape("batch norm (training): scale/shift for \(x.shape)") }
        var key = CacheKey("batchnorm training")
        key.add(x.md); key.add(epsilon)
        let p = try primitive(key) { try batchNormForwardTrainingPD(x.md, epsilon: epsilon) }
        if p.isReference, x.md.data_type == dnnl_bf16 {
            let (out, mean, variance) = try batchNormalizationTraining(try toF32(x), scale: s, shift: t, epsilon: epsilon)
            return (try reorder(try cast(out, "batch norm (training)"), to: x.md, precision: .bf16), mean, variance)
        }
        let out = try newTensor(x.shape, x.precision, x.md)
        let mean = try newTensor([c], .f32, plainMD([c], dnnl_f32))
        let variance = try newTensor([c], .f32, plainMD([c], dnnl_f32))
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DST, out.memory), (DNNL_ARG_SCALE, s.memory),
                        (DNNL_ARG_SHIFT, t.memory), (DNNL_ARG_MEAN, mean.memory), (DNNL_ARG_VARIANCE, variance.memory)])
        roundToBF16(out)
        return (out, mean, variance)
    }

    public func batchNormalizationBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, scale: any DeviceTensor,
                                           shift: any DeviceTensor,
                                           mean: any DeviceTensor, variance: any DeviceTensor, epsilon: Float) throws
        -> (input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor) {
        let op = "batch norm backward"
        let x = try cast(input, op), dy = try cast(gradOutput, op), s = try cast(scale, op), t = try cast(shift, op)
        let m = try cast(mean, op), v = try cast(variance, op)
        let c = x.shape[1]
        var key = CacheKey(op)
        key.add(x.md); key.add(epsilon)
        let p = try primitive(key) {
            let hint = try batchNormForwardTrainingPD(x.md, epsilon: epsilon)
            defer { dnnl_primitive_desc_destroy(hint) }
            var data = x.md, diff = x.md
            var desc = dnnl_batch_normalization_desc_t()
            let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
            try dnnlCheck(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &diff, &data, epsilon, flags),
                          "\(op) descriptor")
            return try createPD(&desc, hint: hint, "\(op) primitive for \(x.shape)")
        }
        if p.isReference, x.md.data_type == dnnl_bf16 {
            let (dx, dscale, dshift) = try batchNormalizationBackward(try toF32(try conform(dy, to: x.md, constant: false)),
                                                                      input: try toF32(x), scale: s, shift: t, mean: m,
                                                                      variance: v, epsilon: epsilon)
            return (try reorder(try cast(dx, op), to: x.md, precision: .bf16), dscale, dshift)
        }
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let dx = try newTensor(x.shape, x.precision, p.md(dnnl_query_diff_src_md))
        let dscale = try newTensor([c], .f32, plainMD([c], dnnl_f32))
        let dshift = try newTensor([c], .f32, plainMD([c], dnnl_f32))
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_MEAN, m.memory), (DNNL_ARG_VARIANCE, v.memory),
                        (DNNL_ARG_DIFF_DST, dd.memory), (DNNL_ARG_SCALE, s.memory), (DNNL_ARG_SHIFT, t.memory),
                        (DNNL_ARG_DIFF_SRC, dx.memory),
                        (DNNL_ARG_DIFF_SCALE, dscale.memory), (DNNL_ARG_DIFF_SHIFT, dshift.memory)])
        roundToBF16(dx)
        return (dx, dscale, dshift)
    }

    // MARK: Instance normalisation (training)
    // Instance norm of a batch = batch norm with its own statistics on every sample, so each sample runs oneDNN's
    // batch-norm training primitives on a one-sample view of the tensor (as the inference op does).

    /// Sample `n` of a tensor as a dense one-sample descriptor and its byte offset: samples are outermost in every
    /// layout oneDNN picks, and kernels are addressed by pointer rather than `offset0`, which not all honour.
    private func sampleView(_ md: dnnl_memory_desc_t, _ n: Int) throws -> (md: dnnl_memory_desc_t, byteOffset: Int) {
        var sub = dnnl_memory_desc_t(), parent = md
        let dims = md.dimensions
        var subDims = dims.map(Int64.init); subDims[0] = 1
        var offsets = [Int64](repeating: 0, count: dims.count); offsets[0] = Int64(n)
        try dnnlCheck(dnnl_memory_desc_init_submemory(&sub, &parent, subDims, offsets), "dnnl_memory_desc_init_submemory")
        let byteOffset = Int(sub.offset0) * (md.data_type == dnnl_bf16 ? 2 : 4)
        sub.offset0 = 0
        return (sub, byteOffset)
    }

    public func instanceNormalizationTraining(_ input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor,
                                              epsilon: Float) throws -> (output: any DeviceTensor, mean: any DeviceTensor, variance: any DeviceTensor) {
        let op = "instance norm (training)"
        let x = try cast(input, op), s = try cast(scale, op), t = try cast(shift, op)
        guard x.shape.count >= 3, s.shape == [x.shape[1]], t.shape == [x.shape[1]] else {
            throw EngineError.shape("\(op): scale/shift must have \(x.shape.count >= 2 ? x.shape[1] : 0) entries for input \(x.shape)")
        }
        let n = x.shape[0], c = x.shape[1]
        let out = try newTensor(x.shape, x.precision, x.md)
        let mean = try newTensor([n, c], .f32, plainMD([n, c], dnnl_f32)), variance = try newTensor([n, c], .f32, plainMD([n, c], dnnl_f32))
        let vector = plainMD([c], dnnl_f32)
        for b in 0..<n {
            let (sub, offset) = try sampleView(x.md, b)
            var key = CacheKey(op)
            key.add(sub); key.add(epsilon)
            let p = try primitive(key) { try batchNormForwardTrainingPD(sub, epsilon: epsilon) }
            let src = try memoryView(sub, x.pointer + offset), dst = try memoryView(sub, out.pointer + offset)
            let m = try memoryView(vector, mean.pointer + 4 * b * c), v = try memoryView(vector, variance.pointer + 4 * b * c)
            defer { for mem in [src, dst, m, v] { dnnl_memory_destroy(mem) } }
            try execute(p, [(DNNL_ARG_SRC, src), (DNNL_ARG_DST, dst), (DNNL_ARG_SCALE, s.memory), (DNNL_ARG_SHIFT, t.memory),
                            (DNNL_ARG_MEAN, m), (DNNL_ARG_VARIANCE, v)])
        }
        roundToBF16(out)
        return (out, mean, variance)
    }

    public func instanceNormalizationBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, scale: any DeviceTensor,
                                              shift: any DeviceTensor, mean: any DeviceTensor, variance: any DeviceTensor,
                                              epsilon: Float) throws -> (input: any DeviceTensor, scale: any DeviceTensor, shift: any DeviceTensor) {
        let op = "instance norm backward"
        let x = try cast(input, op), s = try cast(scale, op), t = try cast(shift, op)
        let m = try cast(mean, op), v = try cast(variance, op)
        let n = x.shape[0], c = x.shape[1]
        let dy = try conform(try cast(gradOutput, op), to: x.md, constant: false)  // same layout as x: samples line up
        let dx = try newTensor(x.shape, x.precision, x.md)
        let vector = plainMD([c], dnnl_f32)
        let dscale = try newTensor([c], .f32, vector), dshift = try newTensor([c], .f32, vector)
        let ds = try newTensor([c], .f32, vector), dt = try newTensor([c], .f32, vector)
        var sumScale = [Float](repeating: 0, count: c), sumShift = sumScale
        for b in 0..<n {
            let (sub, offset) = try sampleView(x.md, b)
            var key = CacheKey(op)
            key.add(sub); key.add(epsilon)
            let p = try primitive(key) {
                let hint = try batchNormForwardTrainingPD(sub, epsilon: epsilon)
                defer { dnnl_primitive_desc_destroy(hint) }
                var data = sub, diff = sub
                var desc = dnnl_batch_normalization_desc_t()
                let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
                try dnnlCheck(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &diff, &data, epsilon, flags), "\(op) descriptor")
                return try createPD(&desc, hint: hint, "\(op) primitive for \(x.shape)")
            }
            let src = try memoryView(sub, x.pointer + offset), ddst = try memoryView(sub, dy.pointer + offset), dsrc = try memoryView(sub, dx.pointer + offset)
            let mm = try memoryView(vector, m.pointer + 4 * b * c), vv = try memoryView(vector, v.pointer + 4 * b * c)
            defer { for mem in [src, ddst, dsrc, mm, vv] { dnnl_memory_destroy(mem) } }
            try execute(p, [(DNNL_ARG_SRC, src), (DNNL_ARG_MEAN, mm), (DNNL_ARG_VARIANCE, vv), (DNNL_ARG_DIFF_DST, ddst),
                            (DNNL_ARG_SCALE, s.memory), (DNNL_ARG_SHIFT, t.memory), (DNNL_ARG_DIFF_SRC, dsrc),
                            (DNNL_ARG_DIFF_SCALE, ds.memory), (DNNL_ARG_DIFF_SHIFT, dt.memory)])
            // Scale and shift are shared by all samples: their gradients are the sums over samples.
            let a = ds.pointer.assumingMemoryBound(to: Float.self), z = dt.pointer.assumingMemoryBound(to: Float.self)
            for k in 0..<c { sumScale[k] += a[k]; sumShift[k] += z[k] }
        }
        let a = dscale.pointer.assumingMemoryBound(to: Float.self), z = dshift.pointer.assumingMemoryBound(to: Float.self)
        for k in 0..<c { a[k] = sumScale[k]; z[k] = sumShift[k] }
        roundToBF16(dx)
        return (dx, dscale, dshift)
    }

    // MARK: Element-wise and softmax

    public func activationBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, _ activation: Activation) throws -> any DeviceTensor {
        let x = try cast(input, "activation backward"), dy = try cast(gradOutput, "activation backward")
        if activation == .identity { return dy }
        var key = CacheKey("eltwise backward")
        key.add(x.md); key.add(activation)
        let p = try primitive(key) {
            var data = x.md, diff = x.md
            let (alg, alpha) = eltwiseAlgorithm(activation)
            var fdesc = dnnl_eltwise_desc_t()
            try dnnlCheck(dnnl_eltwise_forward_desc_init(&fdesc, dnnl_forward_training, alg, &data, alpha, 0), "eltwise hint")
            let hint = try createPD(&fdesc, hint: nil, "eltwise hint primitive")
            defer { dnnl_primitive_desc_destroy(hint) }
            var desc = dnnl_eltwise_desc_t()
            try dnnlCheck(dnnl_eltwise_backward_desc_init(&desc, alg, &diff, &data, alpha, 0), "eltwise backward descriptor")
            return try createPD(&desc, hint: hint, "\(activation.name) backward primitive for \(x.shape)")
        }
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let out = try newTensor(x.shape, x.precision, p.md(dnnl_query_diff_src_md))
        try execute(p, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DIFF_DST, dd.memory), (DNNL_ARG_DIFF_SRC, out.memory)])
        roundToBF16(out)
        return out
    }

    public func softmaxBackward(_ gradOutput: any DeviceTensor, output: any DeviceTensor) throws -> any DeviceTensor {
        // oneDNN's softmax backward is vectorised for a dense channel axis only: work in channels-last.
        let y0 = try cast(output, "softmax backward")
        let y = try conform(y0, to: tagMD(y0.shape, y0.md.data_type, channelsLastTag(y0.shape.count)), constant: false)
        let dy = try cast(gradOutput, "softmax backward")
        var key = CacheKey("softmax backward")
        key.add(y.md)
        let p = try primitive(key) {
            var data = y.md, diff = y.md
            var fdesc = dnnl_softmax_desc_t()
            try dnnlCheck(dnnl_softmax_forward_desc_init(&fdesc, dnnl_forward_training, &data, 1), "softmax hint")
            let hint = try createPD(&fdesc, hint: nil, "softmax hint primitive")
            defer { dnnl_primitive_desc_destroy(hint) }
            var desc = dnnl_softmax_desc_t()
            try dnnlCheck(dnnl_softmax_backward_desc_init(&desc, &diff, &data, 1), "softmax backward descriptor")
            return try createPD(&desc, hint: hint, "softmax backward primitive for \(y.shape)")
        }
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let out = try newTensor(y.shape, y.precision, p.md(dnnl_query_diff_src_md))
        if y.md.data_type == dnnl_f32 && implementationName(p.descriptor).hasPrefix("ref") {
            // oneDNN 2.6 has only a scalar reference kernel here; the same formula, dx = y·(dy − Σ_c dy·y), over
            // contiguous channel vectors is far faster.
            let channels = y.shape[1], positions = y.shape.reduce(1, *) / max(channels, 1)
            let py = y.pointer.assumingMemoryBound(to: Float.self), pd = dd.pointer.assumingMemoryBound(to: Float.self)
            let po = out.pointer.assumingMemoryBound(to: Float.self)
            for v in 0..<positions {
                let base = v * channels
                var dot: Float = 0
                for c in 0..<channels { dot += py[base + c] * pd[base + c] }
                for c in 0..<channels { po[base + c] = py[base + c] * (pd[base + c] - dot) }
            }
        } else {
            try execute(p, [(DNNL_ARG_DST, y.memory), (DNNL_ARG_DIFF_DST, dd.memory), (DNNL_ARG_DIFF_SRC, out.memory)])
        }
        roundToBF16(out)
        return out
    }

    public func addGradients(_ a: any DeviceTensor, _ b: any DeviceTensor) throws -> any DeviceTensor {
        let x = try cast(a, "add gradients")
        // Same layouts keep oneDNN on its vectorised binary kernel.
        return try add(x, try conform(try cast(b, "add gradients"), to: x.md, constant: false), activation: .identity)
    }

    public func multiply(_ a: any DeviceTensor, _ b: any DeviceTensor) throws -> any DeviceTensor {
        let x = try cast(a, "multiply"), y0 = try cast(b, "multiply")
        guard x.shape == y0.shape else { throw EngineError.shape("multiply: shapes \(x.shape) and \(y0.shape) differ") }
        var key = CacheKey("mul")
        key.add(x.md)
        // Equal layouts keep oneDNN on its vectorised binary kernel (mixed layouts fall to the reference one).
        let y = try conform(y0, to: x.md, constant: false)
        let p = try primitive(key) {
            var s0 = x.md, s1 = x.md, d = x.md
            var desc = dnnl_binary_desc_t()
            try dnnlCheck(dnnl_binary_desc_init(&desc, dnnl_binary_mul, &s0, &s1, &d), "binary mul descriptor")
            return try createPD(&desc, hint: nil, "binary mul primitive for \(x.shape)")
        }
        let out = try newTensor(x.shape, x.precision, x.md)
        try execute(p, [(DNNL_ARG_SRC_0, x.memory), (DNNL_ARG_SRC_1, y.memory), (DNNL_ARG_DST, out.memory)])
        roundToBF16(out)
        return out
    }

    // MARK: Pooling, resampling, concatenation

    /// Forward-training pooling primitive on a concrete source layout, and the backward descriptor whose
    /// gradient layout equals the forward output layout (max pooling's workspace is tied to it).
    private func poolingPrimitives(_ srcMD: dnnl_memory_desc_t, outShape: [Int], kind: PoolingKind, kernel: [Int], stride: [Int],
                                   padding: [Int], type: dnnl_data_type_t) throws -> (fwd: DNNLPrimitive, bwd: DNNLPrimitive) {
        var key = CacheKey("pool training")
        key.add(srcMD); key.add(outShape); key.add(kind); key.add(kernel); key.add(stride); key.add(padding); key.add(type)
        var bkey = key; bkey.add("backward")
        let alg = kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_include_padding
        let zeros = [Int64](repeating: 0, count: kernel.count)
        let s = stride.map(Int64.init), k = kernel.map(Int64.init), pad = padding.map(Int64.init)
        func forwardPD() throws -> dnnl_primitive_desc_t {
            var src = srcMD, dst = anyMD(outShape, type)
            var fdesc = dnnl_pooling_v2_desc_t()
            try dnnlCheck(dnnl_pooling_v2_forward_desc_init(&fdesc, dnnl_forward_training, alg, &src, &dst, s, k, zeros, pad, pad),
                          "pooling (training) descriptor")
            return try createPD(&fdesc, hint: nil, "pooling (training) primitive for \(srcMD.dimensions)")
        }
        let fwd = try primitive(key) { try forwardPD() }
        let bwd = try primitive(bkey) {
            let hint = try forwardPD()
            defer { dnnl_primitive_desc_destroy(hint) }
            var dsrc = anyMD(srcMD.dimensions, type), ddst = fwd.md(dnnl_query_dst_md)
            var bdesc = dnnl_pooling_v2_desc_t()
            try dnnlCheck(dnnl_pooling_v2_backward_desc_init(&bdesc, alg, &dsrc, &ddst, s, k, zeros, pad, pad),
                          "pooling backward descriptor")
            return try createPD(&bdesc, hint: hint, "pooling backward primitive for \(srcMD.dimensions)")
        }
        return (fwd, bwd)
    }

    private func poolBackward(_ dy: DNNLTensor, input x: DNNLTensor?, inputShape: [Int], srcMD: dnnl_memory_desc_t,
                              kind: PoolingKind, kernel: [Int], stride: [Int], padding: [Int]) throws -> DNNLTensor {
        let type = dataType(dy.precision)
        let (f, p) = try poolingPrimitives(srcMD, outShape: dy.shape, kind: kind, kernel: kernel, stride: stride,
                                           padding: padding, type: type)
        var args: [(Int32, dnnl_memory_t)] = []
        var keep: [DNNLTensor] = []
        if kind == .max, let x {
            // The arg-max positions (workspace) come from re-running the forward-training primitive.
            let y = try newTensor(dy.shape, dy.precision, f.md(dnnl_query_dst_md))
            let wsMD = f.md(dnnl_query_workspace_md)
            let ws = try newTensor(wsMD.dimensions, .f32, wsMD)
            try execute(f, [(DNNL_ARG_SRC, x.memory), (DNNL_ARG_DST, y.memory), (DNNL_ARG_WORKSPACE, ws.memory)])
            keep = [y, ws]
            args.append((DNNL_ARG_WORKSPACE, ws.memory))
        }
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let out = try newTensor(inputShape, dy.precision, p.md(dnnl_query_diff_src_md))
        args += [(DNNL_ARG_DIFF_DST, dd.memory), (DNNL_ARG_DIFF_SRC, out.memory)]
        try execute(p, args)
        withExtendedLifetime(keep) {}
        roundToBF16(out)
        return out
    }

    public func poolingBackward(_ gradOutput: any DeviceTensor, input: any DeviceTensor, geometry g: PoolingGeometry) throws -> any DeviceTensor {
        let x = try cast(input, "pooling backward"), dy = try cast(gradOutput, "pooling backward")
        return try poolBackward(dy, input: x, inputShape: x.shape, srcMD: x.md, kind: g.kind, kernel: g.kernel,
                                stride: g.stride, padding: g.padding)
    }

    public func globalAveragePoolingBackward(_ gradOutput: any DeviceTensor, inputShape: [Int]) throws -> any DeviceTensor {
        let dy = try cast(gradOutput, "global average pooling backward")
        let spatial = Array(inputShape.dropFirst(2))
        let ones = spatial.map { _ in 1 }
        let dims = Array(inputShape.prefix(2)) + ones
        let view = try plainView(dy, dims: dims, shape: dims)
        return try poolBackward(view, input: nil, inputShape: inputShape, srcMD: plainMD(inputShape, dataType(dy.precision)),
                                kind: .average, kernel: spatial, stride: ones, padding: ones.map { _ in 0 })
    }

    public func upsampleBackward(_ gradOutput: any DeviceTensor, inputShape: [Int], factors: [Int], mode: UpsamplingMode) throws -> any DeviceTensor {
        let dy = try cast(gradOutput, "upsample backward")
        if factors.allSatisfy({ $0 == 1 }) { return dy }
        let type = dataType(dy.precision)
        var key = CacheKey("resample backward")
        key.add(dy.md); key.add(inputShape); key.add(factors); key.add(mode)
        let tag = channelsLastTag(inputShape.count)
        let p = try primitive(key) {
            let alg = mode == .nearest ? dnnl_resampling_nearest : dnnl_resampling_linear
            let f = factors.map(Float.init)
            // Same layout on both sides (channels-last) keeps oneDNN on its vectorised resampling kernel.
            var src = tagMD(inputShape, type, tag), dst = tagMD(dy.shape, type, tag)
            var fdesc = dnnl_resampling_desc_t()
            try dnnlCheck(dnnl_resampling_forward_desc_init(&fdesc, dnnl_forward_training, alg, f, &src, &dst), "resampling hint")
            let hint = try createPD(&fdesc, hint: nil, "resampling hint primitive")
            defer { dnnl_primitive_desc_destroy(hint) }
            var desc = dnnl_resampling_desc_t()
            try dnnlCheck(dnnl_resampling_backward_desc_init(&desc, alg, f, &src, &dst), "resampling backward descriptor")
            return try createPD(&desc, hint: hint, "resampling backward primitive for \(inputShape)")
        }
        let dd = try conform(dy, to: p.md(dnnl_query_diff_dst_md), constant: false)
        let out = try newTensor(inputShape, dy.precision, p.md(dnnl_query_diff_src_md))
        try execute(p, [(DNNL_ARG_DIFF_DST, dd.memory), (DNNL_ARG_DIFF_SRC, out.memory)])
        roundToBF16(out)
        return out
    }

    public func splitChannels(_ input: any DeviceTensor, sizes: [Int]) throws -> [any DeviceTensor] {
        let x = try cast(input, "split channels")
        guard sizes.reduce(0, +) == x.shape[1], sizes.allSatisfy({ $0 > 0 }) else {
            throw EngineError.shape("split channels: sizes \(sizes) for input \(x.shape)")
        }
        if sizes.count == 1 { return [x] }
        let plain = try conform(x, to: plainMD(x.md.dimensions, x.md.data_type), constant: false)
        var parts: [any DeviceTensor] = []
        var offset = 0
        for size in sizes {
            var parent = plain.md
            var sub = dnnl_memory_desc_t()
            var subDims = x.shape.map(Int64.init); subDims[1] = Int64(size)
            var offsets = [Int64](repeating: 0, count: x.shape.count); offsets[1] = Int64(offset)
            try dnnlCheck(dnnl_memory_desc_init_submemory(&sub, &parent, subDims, offsets), "dnnl_memory_desc_init_submemory")
            var shape = x.shape; shape[1] = size
            let out = try newTensor(shape, x.precision, plainMD(shape, x.md.data_type))
            try reorder(from: sub, plain.memory, to: out.md, out.memory)
            parts.append(out)
            offset += size
        }
        return parts
    }
}
