import Foundation

/// Differentiable ops: each computes its forward value on the backend and records its pullback right beside it.
extension Tape {
    public func convolution(_ x: Variable, weight: Variable, bias: Variable?, geometry: ConvolutionGeometry) throws -> Variable {
        let y = try backend.convolution(x.value, weight: weight.value, bias: bias?.value, geometry: geometry, epilogue: .none)
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        let backend = self.backend
        return record(y, inputs: inputs) { g, needs in
            let dx = needs[0] ? try backend.convolutionBackwardData(g, weight: weight.value, inputShape: x.shape, geometry: geometry) : nil
            guard needs[1] || (needs.count > 2 && needs[2]) else { return [dx, nil, nil] }
            let (dw, db) = try backend.convolutionBackwardWeights(x.value, gradOutput: g, weightShape: weight.shape,
                                                                  geometry: geometry, bias: bias != nil)
            return [dx, dw, db]
        }
    }

    /// Transposed convolution; `weight` holds PyTorch-ordered `[I, O, k...]` values uploaded with role
    /// `.transposedConvolutionWeight`, `weightShape` is that PyTorch shape.
    public func transposedConvolution(_ x: Variable, weight: Variable, weightShape: [Int], bias: Variable?,
                                      geometry: ConvolutionGeometry) throws -> Variable {
        let y = try backend.transposedConvolution(x.value, weight: weight.value, bias: bias?.value, geometry: geometry, epilogue: .none)
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        let backend = self.backend
        return record(y, inputs: inputs) { g, needs in
            let dx = needs[0] ? try backend.transposedConvolutionBackwardData(g, weight: weight.value, inputShape: x.shape,
                                                                             geometry: geometry) : nil
            guard needs[1] || (needs.count > 2 && needs[2]) else { return [dx, nil, nil] }
            let (dw, db) = try backend.transposedConvolutionBackwardWeights(x.value, gradOutput: g, weightShape: weightShape,
                                                                            geometry: geometry, bias: bias != nil)
            return [dx, dw, db]
        }
    }

    public func dense(_ x: Variable, weight: Variable, bias: Variable?) throws -> Variable {
        let y = try backend.dense(x.value, weight: weight.value, bias: bias?.value, epilogue: .none)
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        let backend = self.backend
        return record(y, inputs: inputs) { g, needs in
            let dx = needs[0] ? try backend.denseBackwardData(g, weight: weight.value, inputShape: x.shape) : nil
            guard needs[1] || (needs.count > 2 && needs[2]) else { return [dx, nil, nil] }
            let (dw, db) = try backend.denseBackwardWeights(x.value, gradOutput: g, bias: bias != nil)
            return [dx, dw, db]
        }
    }

    /// Batch normalisation. Training: batch statistics, and `statistics` receives the batch mean and biased
    /// variance (for running averages). Eval: the running statistics `mean`/`variance`.
    public func batchNormalization(_ x: Variable, scale: Variable, shift: Variable, mean: any DeviceTensor,
                                   variance: any DeviceTensor, epsilon: Float,
                                   statistics: ((_ mean: any DeviceTensor, _ variance: any DeviceTensor) throws -> Void)? = nil) throws -> Variable {
        guard training else {
            let y = try backend.batchNormalization(x.value, scale: scale.value, shift: shift.value, mean: mean,
                                                   variance: variance, epsilon: epsilon)
            return record(y, inputs: []) { _, _ in [] }
        }
        let (y, m, v) = try backend.batchNormalizationTraining(x.value, scale: scale.value, shift: shift.value, epsilon: epsilon)
        try statistics?(m, v)
        let backend = self.backend
        return record(y, inputs: [x, scale, shift]) { g, _ in
            let (dx, ds, dt) = try backend.batchNormalizationBackward(g, input: x.value, scale: scale.value, shift: shift.value, mean: m,
                                                                      variance: v, epsilon: epsilon)
            return [dx, ds, dt]
        }
    }

    /// Instance normalisation: per sample and channel over the spatial axes, in training and eval alike.
    public func instanceNormalization(_ x: Variable, scale: Variable, shift: Variable, epsilon: Float) throws -> Variable {
        let (y, m, v) = try backend.instanceNormalizationTraining(x.value, scale: scale.value, shift: shift.value, epsilon: epsilon)
        let backend = self.backend
        return record(y, inputs: [x, scale, shift]) { g, _ in
            let (dx, ds, dt) = try backend.instanceNormalizationBackward(g, input: x.value, scale: scale.value, shift: shift.value,
                                                                         mean: m, variance: v, epsilon: epsilon)
            return [dx, ds, dt]
        }
    }

    public func activation(_ x: Variable, _ activation: Activation) throws -> Variable {
        if activation == .identity { return x }
        let y = try backend.activation(x.value, activation)
        let backend = self.backend
        return record(y, inputs: [x]) { g, _ in [try backend.activationBackward(g, input: x.value, activation)] }
    }

    public func softmaxOverChannels(_ x: Variable) throws -> Variable {
        let y = try backend.softmaxOverChannels(x.value)
        let backend = self.backend
        return record(y, inputs: [x]) { g, _ in [try backend.softmaxBackward(g, output: y)] }
    }

    public func pooling(_ x: Variable, geometry: PoolingGeometry) throws -> Variable {
        let y = try backend.pooling(x.value, geometry: geometry)
        let backend = self.backend
        return record(y, inputs: [x]) { g, _ in [try backend.poolingBackward(g, input: x.value, geometry: geometry)] }
    }

    public func globalAveragePooling(_ x: Variable) throws -> Variable {
        let y = try backend.globalAveragePooling(x.value)
        let backend = self.backend
        return record(y, inputs: [x]) { g, _ in [try backend.globalAveragePoolingBackward(g, inputShape: x.shape)] }
    }

    public func upsample(_ x: Variable, factors: [Int], mode: UpsamplingMode) throws -> Variable {
        let y = try backend.upsample(x.value, factors: factors, mode: mode)
        let backend = self.backend
        return record(y, inputs: [x]) { g, _ in
            [try backend.upsampleBackward(g, inputShape: x.shape, factors: factors, mode: mode)]
        }
    }

    /// The fine grid from polyphase parts (`Backend.interleave`); the gradient splits back into the phases.
    public func interleave(_ xs: [Variable], factors: [Int]) throws -> Variable {
        let y = try backend.interleave(xs.map(\.value), factors: factors)
        let backend = self.backend
        return record(y, inputs: xs) { g, _ in try backend.deinterleave(g, factors: factors).map { Optional($0) } }
    }

    public func concatenateChannels(_ xs: [Variable]) throws -> Variable {
        let y = try backend.concatenateChannels(xs.map(\.value))
        let backend = self.backend
        let sizes = xs.map { $0.shape[1] }
        return record(y, inputs: xs) { g, _ in try backend.splitChannels(g, sizes: sizes).map { Optional($0) } }
    }

    public func add(_ a: Variable, _ b: Variable) throws -> Variable {
        let y = try backend.add(a.value, b.value, activation: .identity)
        return record(y, inputs: [a, b]) { g, _ in [g, g] }
    }

    /// Inverted dropout: in training each value is zeroed with probability `rate` and the rest scaled by
    /// 1/(1−rate); in eval mode (or at rate 0) the identity.
    public func dropout(_ x: Variable, rate: Float) throws -> Variable {
        guard training, rate > 0 else { return x }
        guard rate < 1 else { throw EngineError.unsupported("dropout rate \(rate) must be below 1") }
        let keep = 1 / (1 - rate)
        var mask = HostTensor(zeros: x.shape)
        // Four 16-bit uniforms per 64-bit draw (a step draws tens of millions): a value is dropped when its
        // 16 bits fall below rate·2¹⁶, so the rate is honoured to 1/65 536.
        var rng = random  // a local copy: the loop is hot
        let threshold = UInt64((Double(rate) * 65536).rounded())
        mask.data.withUnsafeMutableBufferPointer { m in
            var i = 0
            while i < m.count {
                var bits = rng.next()
                for _ in 0..<min(4, m.count - i) {
                    m[i] = bits & 0xFFFF < threshold ? 0 : keep
                    bits >>= 16
                    i += 1
                }
            }
        }
        random = rng
        let m = try backend.upload(mask, role: .activation, precision: x.value.precision)
        let y = try backend.multiply(x.value, m)
        let backend = self.backend
        return record(y, inputs: [x]) { g, _ in [try backend.multiply(g, m)] }
    }
}
