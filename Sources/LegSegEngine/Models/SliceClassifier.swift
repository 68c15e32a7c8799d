/// The slice classifier (see `SliceClassifierConfiguration`) prepared on a backend in one precision.
public final class SliceClassifier {
    public let configuration: SliceClassifierConfiguration
    public let precision: Precision
    public let backend: any Backend
    let trunk: [(ConvUnit, PoolingGeometry?)]
    let heads: [(name: String, layers: [ConvUnit])]

    public init(configuration: SliceClassifierConfiguration, weights: [String: HostTensor], backend: any Backend,
                precision: Precision) throws {
        try configuration.validate(file: "SliceClassifier")
        self.configuration = configuration
        self.precision = precision
        self.backend = backend
        let c = configuration
        trunk = try c.stages.enumerated().map { i, stage in
            let unit = try ConvUnit(backend: backend, precision: precision,
                                    kind: .convolution(.same(kernel: stage.kernel, rank: 2)), prefix: "trunk.\(i).conv",
                                    weights: weights,
                                    norm: try NormParameters(kind: c.normalization, prefix: "trunk.\(i).norm",
                                                             weights: weights, epsilon: c.normEpsilon),
                                    activation: c.activation)
            let pool = stage.pool > 1 ? PoolingGeometry(kind: .max, kernel: [stage.pool, stage.pool]) : nil
            return (unit, pool)
        }
        heads = try c.heads.map { head in
            var layers = try c.headWidths.indices.map { j in
                try ConvUnit(backend: backend, precision: precision, kind: .dense, prefix: "heads.\(head.name).\(j).linear",
                             weights: weights,
                             norm: try NormParameters(kind: c.normalization, prefix: "heads.\(head.name).\(j).norm",
                                                      weights: weights, epsilon: c.normEpsilon),
                             activation: c.activation)
            }
            let output = try ConvUnit(backend: backend, precision: precision, kind: .dense,
                                      prefix: "heads.\(head.name).output", weights: weights, norm: .none(),
                                      activation: .identity)
            output.f32Output = true
            layers.append(output)
            return (head.name, layers)
        }
    }

    /// Class probabilities per head, `[N, classes]`, for images `[N, inputChannels, height, width]`.
    public func forward(_ input: any DeviceTensor) throws -> [(head: String, probabilities: any DeviceTensor)] {
        let c = configuration
        guard input.shape.count == 4, input.shape[1] == c.inputChannels, Array(input.shape[2...]) == c.imageSize else {
            throw EngineError.shape("slice classifier: input shape \(input.shape) should be [N, \(c.inputChannels), \(c.imageSize[0]), \(c.imageSize[1])]")
        }
        var x = input
        for (unit, pool) in trunk {
            x = try unit(x)
            if let pool { x = try backend.pooling(x, geometry: pool) }
        }
        return try heads.map { head in
            var h = x
            for layer in head.layers { h = try layer(h) }
            return (head.name, try backend.softmaxOverChannels(h))
        }
    }

    /// Uploads, runs and downloads: per head, probabilities `[N, classes]` in f32.
    public func predict(_ input: HostTensor) throws -> [(head: String, probabilities: HostTensor)] {
        let x = try backend.upload(input, role: .activation, precision: precision)
        return try forward(x).map { ($0.head, try backend.download($0.probabilities)) }
    }
}
