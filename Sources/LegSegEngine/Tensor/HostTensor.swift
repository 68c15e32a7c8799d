/// A dense f32 tensor in host memory, row-major in the logical order the network uses:
/// `[N, C, D, H, W]` (3D), `[N, C, H, W]` (2D) or `[N, K]` (dense). Spatial axes are the spec's `(z, y, x)`.
/// Backends keep their own (often channels-last or blocked) layouts; a `HostTensor` is how data enters and
/// leaves them, and how weights are read from files.
public struct HostTensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw EngineError.shape("negative dimension in \(shape)") }
        let count = shape.reduce(1, *)
        guard count == data.count else {
            throw EngineError.shape("shape \(shape) holds \(count) values but \(data.count) were given")
        }
        self.shape = shape
        self.data = data
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> HostTensor {
        try HostTensor(shape: newShape, data: data)
    }

    /// Index of the largest value along axis 1 (channels) for each position of the other axes, row-major over
    /// `[N, spatial...]`. Ties pick the lowest channel, as PyTorch's `argmax` does.
    public func argmaxOverChannels() -> [Int] {
        guard shape.count >= 2 else { return [] }
        let n = shape[0], c = shape[1]
        let inner = shape.dropFirst(2).reduce(1, *)
        var result = [Int](repeating: 0, count: n * inner)
        data.withUnsafeBufferPointer { values in
            for b in 0..<n {
                for p in 0..<inner {
                    var best = 0
                    var bestValue = values[b * c * inner + p]
                    for k in 1..<max(c, 1) {
                        let v = values[(b * c + k) * inner + p]
                        if v > bestValue { bestValue = v; best = k }
                    }
                    result[b * inner + p] = best
                }
            }
        }
        return result
    }
}
