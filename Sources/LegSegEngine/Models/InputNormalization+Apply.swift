/// The input normalisation rules, applied to the intensities of one whole sub-volume (never per patch, so that
/// all patches of a region see one mapping; spec §6.7). Training applies the same code to its samples.
extension InputNormalization {
    /// Normalises `values` in place.
    /// - uniform: histogram CDF of the non-background values (spec §1.6.6): `bins` bins over [min, max), the
    ///   first bin (background) ignored, each voxel replaced by the CDF of its bin; output in [0, 1], background 0.
    /// - zscore: (v − mean) / std over non-zero voxels; zero voxels stay 0.
    /// - minmax: (v − min) / (max − min).
    /// - none: unchanged.
    public func apply(to values: inout [Float]) {
        switch rule {
        case "uniform": InputNormalization.uniform(&values, bins: bins ?? 1024)
        case "zscore": InputNormalization.zscore(&values)
        case "minmax":
            guard let lo = values.min(), let hi = values.max(), hi > lo else { return }
            let scale = 1 / (hi - lo)
            for n in values.indices { values[n] = (values[n] - lo) * scale }
        default: return
        }
    }

    static func uniform(_ values: inout [Float], bins: Int) {
        guard let lo = values.min(), let hi = values.max(), hi > lo else { return }
        let width = (hi - lo) / Float(bins)
        var counts = [Double](repeating: 0, count: bins)
        for v in values {
            let b = Int((v - lo) / width)
            if b < bins { counts[b] += 1 }  // `hi` itself falls outside, as in the original
        }
        counts[0] = 0
        let total = counts.reduce(0, +)
        var cdf = [Float](repeating: 0, count: bins)
        var running = 0.0
        for b in 0..<bins { running += counts[b]; cdf[b] = total > 0 ? Float(running / total) : Float(running) }
        let scale = Float(bins - 1) / (hi - lo)
        for n in values.indices {
            let b = min(bins - 1, max(0, Int((values[n] - lo) * scale)))
            values[n] = cdf[b]
        }
    }

    static func zscore(_ values: inout [Float]) {
        var sum = 0.0, sumSquares = 0.0, count = 0.0
        for v in values where v != 0 { sum += Double(v); sumSquares += Double(v) * Double(v); count += 1 }
        guard count > 1 else { return }
        let mean = sum / count
        let std = max((sumSquares / count - mean * mean).squareRoot(), 1e-12)
        for n in values.indices where values[n] != 0 { values[n] = Float((Double(values[n]) - mean) / std) }
    }
}
