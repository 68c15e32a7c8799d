import LegSegIO

/// The body (foreground) mask of spec §1.2: reference normalisation so that the foreground median is 100,
/// threshold at 10 % of it, then smoothing (hole fill, the two largest components, 3 rounds of
/// dilate → Gaussian → threshold 0.45 → erode).
public struct ForegroundMask: Sendable {
    /// Fraction of the foreground median below which voxels are background (spec: 10 on a scale where the
    /// foreground median is 100).
    public var threshold: Float = 10
    /// How many connected components to keep (two legs).
    public var components = 2
    /// Extra box dilation before smoothing (the original CLI pre-mask uses 1).
    public var dilation = 0
    public var smoothingIterations = 3

    public init() {}

    /// The mask (0/1) of `image`; all zeros when the image is empty or constant.
    public func callAsFunction(_ image: Volume<Float>) -> Volume<UInt8> {
        var mask = Volume<UInt8>(shape: image.shape, repeating: 0, affine: image.affine)
        guard let (normalised, backgroundMedian) = ForegroundMask.referenceNormalisation(image.voxels) else { return mask }
        let maxValue = normalised.max() ?? 0
        // Beyond the spec: magnitude images with background noise (low SNR) can have noise above 10 % of the
        // foreground median, which then floods the mask over the whole field of view (one "leg", the classifier
        // seeing whole-FOV slices). The threshold is raised to 3x the median of the Otsu background class, which
        // is 0 for zero-background scans (unchanged) and keeps all but ~0.2 % of Rayleigh noise out otherwise.
        let cut = max(threshold, 3 * backgroundMedian)
        for n in normalised.indices where normalised[n] >= cut && normalised[n] < 1.1 * maxValue { mask.voxels[n] = 1 }
        return smooth(mask)
    }

    /// `NormalizeData` method "Set" (spec §1.2a): shifts to a zero minimum and scales so that the median of the
    /// Otsu foreground is 100. Nil when the image has no non-zero voxel after the shift.
    public static func referenceNormalised(_ values: [Float]) -> [Float]? { referenceNormalisation(values)?.values }

    /// The reference normalisation and, on the same scale, the median of the voxels in Otsu's background class
    /// (one Otsu split serves both).
    static func referenceNormalisation(_ values: [Float]) -> (values: [Float], backgroundMedian: Float)? {
        guard let minimum = values.min() else { return nil }
        let s = values.map { $0 - minimum }
        let nonZero = s.filter { $0 > 0 }
        guard !nonZero.isEmpty else { return nil }
        let t1 = median(nonZero)
        let t = s.map { 100 * $0 / t1 }
        // Otsu on t rescaled from [min, q0.99] to [0, 1] and clipped.
        let q99 = quantile(t, 0.99)
        let tMin = t.min()!
        let span = max(q99 - tMin, .leastNonzeroMagnitude)
        let scaled = t.map { min(1, max(0, ($0 - tMin) / span)) }
        let cut = otsuThreshold(scaled)
        var foreground: [Float] = [], background: [Float] = []
        foreground.reserveCapacity(s.count / 2)
        for n in s.indices {
            if scaled[n] > cut { if s[n] > 0 { foreground.append(s[n]) } } else { background.append(s[n]) }
        }
        let med = foreground.isEmpty ? t1 : median(foreground)
        return (s.map { 100 * $0 / med }, background.isEmpty ? 0 : 100 * median(background) / med)
    }

    /// `SmoothMask` with the effective options of spec §1.2c.
    public func smooth(_ mask: Volume<UInt8>) -> Volume<UInt8> {
        guard let box = mask.boundingBox(where: { $0 != 0 }) else { return mask }
        let region = box.expanded(by: 5, within: mask.shape)
        var m = mask.cropped(to: region)
        m = Morphology.fillHoles(m)
        m = ConnectedComponents(m).largest(components, shape: m.shape, affine: m.affine)
        if dilation > 0 { m = Morphology.dilate(m, radius: dilation) }
        for _ in 0..<smoothingIterations {
            m = Morphology.dilate(m, radius: 1)
            let blurred = Morphology.gaussian(m.voxels.map(Float.init), shape: m.shape, sigma: 1, radius: 2)
            m.voxels = blurred.map { $0 + 0.05 >= 0.5 ? 1 : 0 }  // Round[x + 0.05]
            m = Morphology.erode(m, radius: 1)
        }
        var out = Volume<UInt8>(shape: mask.shape, repeating: 0, affine: mask.affine)
        out.paste(m, at: region.lower)
        return out
    }
}

/// Otsu's threshold on values in [0, 1] (256-bin histogram): the cut maximising between-class variance.
func otsuThreshold(_ values: [Float], bins: Int = 256) -> Float {
    var histogram = [Double](repeating: 0, count: bins)
    for v in values { histogram[min(bins - 1, max(0, Int(v * Float(bins))))] += 1 }
    let total = Double(values.count)
    let sumAll = histogram.enumerated().reduce(0.0) { $0 + Double($1.offset) * $1.element }
    var weightBelow = 0.0, sumBelow = 0.0, best = -1.0, bestBin = 0
    for b in 0..<bins {
        weightBelow += histogram[b]
        if weightBelow == 0 { continue }
        let weightAbove = total - weightBelow
        if weightAbove == 0 { break }
        sumBelow += Double(b) * histogram[b]
        let meanBelow = sumBelow / weightBelow, meanAbove = (sumAll - sumBelow) / weightAbove
        let between = weightBelow * weightAbove * (meanBelow - meanAbove) * (meanBelow - meanAbove)
        if between > best { best = between; bestBin = b }
    }
    return Float(bestBin + 1) / Float(bins)  // values in bins above the cut are foreground
}

/// Median (mean of the two middle values for an even count).
func median(_ values: [Float]) -> Float {
    guard !values.isEmpty else { return 0 }
    var s = values
    let m = s.count / 2
    let upper = select(&s, m)
    guard s.count % 2 == 0 else { return upper }
    return (s[0..<m].max()! + upper) / 2  // after selection the lower half holds the m smallest values
}

/// Mathematica's default `Quantile`: the ⌈q·n⌉-th smallest value (q = 0 → minimum), no interpolation.
func quantile(_ values: [Float], _ q: Double) -> Float {
    guard !values.isEmpty else { return 0 }
    var s = values
    let rank = max(1, Int((q * Double(s.count)).rounded(.up)))
    return select(&s, min(s.count, rank) - 1)
}

/// The k-th smallest value (from 0), by quickselect with median-of-three pivots: O(n) on average instead of
/// sorting millions of voxels. Leaves `a` partitioned: everything before index k is ≤ the result.
func select(_ a: inout [Float], _ k: Int) -> Float {
    var lo = 0, hi = a.count - 1
    a.withUnsafeMutableBufferPointer { a in
        while hi > lo {
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { a.swapAt(mid, lo) }
            if a[hi] < a[lo] { a.swapAt(hi, lo) }
            if a[hi] < a[mid] { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { break }
        }
    }
    return a[k]
}
