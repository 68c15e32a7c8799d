/// Exact Euclidean distance transform with per-axis spacing (Felzenszwalb & Huttenlocher, "Distance Transforms
/// of Sampled Functions", 2012): the squared distance is separable, so three 1D passes of the lower envelope of
/// parabolas give the exact result in time linear in the voxel count.
public enum DistanceTransform {
    /// For every voxel of a `shape` grid (`i` fastest), the squared distance in mm² to the nearest voxel where
    /// `isFeature` is true, with voxel spacing `spacing` mm along `(i, j, k)`. `.infinity` everywhere when there
    /// is no feature voxel.
    public static func squaredDistances(toFeatures isFeature: [Bool], shape: [Int], spacing: [Double]) -> [Double] {
        precondition(shape.count == 3 && spacing.count == 3 && isFeature.count == shape.reduce(1, *), "bad EDT input")
        var d = isFeature.map { $0 ? 0.0 : Double.infinity }
        let strides = [1, shape[0], shape[0] * shape[1]]
        let longest = shape.max() ?? 0
        var line = [Double](repeating: 0, count: longest)
        var result = [Double](repeating: 0, count: longest)
        var vertices = [Int](repeating: 0, count: longest)
        var bounds = [Double](repeating: 0, count: longest + 1)
        for axis in 0..<3 {
            let n = shape[axis], stride = strides[axis]
            guard n > 0 else { continue }
            // Every line along `axis` starts at a voxel whose `axis` coordinate is 0.
            let others = (0..<3).filter { $0 != axis }
            for b in 0..<shape[others[1]] {
                for a in 0..<shape[others[0]] {
                    let start = a * strides[others[0]] + b * strides[others[1]]
                    for q in 0..<n { line[q] = d[start + q * stride] }
                    envelope(line, count: n, spacing: spacing[axis], into: &result, vertices: &vertices, bounds: &bounds)
                    for q in 0..<n { d[start + q * stride] = result[q] }
                }
            }
        }
        return d
    }

    /// 1D pass: `out[q] = min_p (s (q - p))² + f[p]` over the first `count` entries. Infinite `f[p]` (no feature
    /// on that line yet) contribute no parabola; a line with none stays infinite.
    static func envelope(_ f: [Double], count n: Int, spacing s: Double, into out: inout [Double],
                         vertices v: inout [Int], bounds z: inout [Double]) {
        var k = -1
        func intersection(_ q: Int, _ p: Int) -> Double {
            let xq = s * Double(q), xp = s * Double(p)
            return ((f[q] + xq * xq) - (f[p] + xp * xp)) / (2 * (xq - xp))
        }
        for q in 0..<n where f[q].isFinite {
            if k < 0 {
                k = 0; v[0] = q; z[0] = -.infinity; z[1] = .infinity
                continue
            }
            var x = intersection(q, v[k])
            while x <= z[k] {  // z[0] is -inf, so this stops at k = 0
                k -= 1
                x = intersection(q, v[k])
            }
            k += 1
            v[k] = q; z[k] = x; z[k + 1] = .infinity
        }
        guard k >= 0 else {
            for q in 0..<n { out[q] = .infinity }
            return
        }
        k = 0
        for q in 0..<n {
            let xq = s * Double(q)
            while z[k + 1] < xq { k += 1 }
            let dx = xq - s * Double(v[k])
            out[q] = dx * dx + f[v[k]]
        }
    }
}
