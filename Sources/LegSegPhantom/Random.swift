import Foundation

/// Seeded pseudo-random numbers (xoshiro256** seeded through SplitMix64). The phantom never touches the system
/// generator, so a seed fixes every file bit for bit.
public struct PhantomRandom: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = seed
        func next() -> UInt64 {
            sm &+= 0x9E37_79B9_7F4A_7C15
            var z = sm
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (next(), next(), next(), next())
    }

    /// A generator for an independent stream, derived from this seed and `stream` (e.g. a case or slice index).
    public static func stream(_ seed: UInt64, _ stream: UInt64) -> PhantomRandom {
        PhantomRandom(seed: mix(seed ^ mix(stream &+ 0x632B_E59B_D9B4_E019)))
    }

    public mutating func nextUInt64() -> UInt64 {
        @inline(__always) func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(nextUInt64() >> 11) * 0x1.0p-53 }

    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// Standard normal (Box-Muller; one value per call, simple and deterministic).
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Two independent standard normals from one Box-Muller step.
    public mutating func normalPair() -> (Double, Double) {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        let r = (-2 * log(u1)).squareRoot(), t = 2 * Double.pi * u2
        return (r * cos(t), r * sin(t))
    }

    public mutating func normal(_ mean: Double, _ sd: Double) -> Double { mean + sd * normal() }

    /// Normal clipped to [lo, hi].
    public mutating func normal(_ mean: Double, _ sd: Double, clip lo: Double, _ hi: Double) -> Double {
        min(hi, max(lo, normal(mean, sd)))
    }

    public mutating func bernoulli(_ p: Double) -> Bool { uniform() < p }

    public mutating func int(below n: Int) -> Int { Int(nextUInt64() % UInt64(max(n, 1))) }

    /// SplitMix64 finaliser, also used as a hash.
    @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Smooth 3D value noise on an integer lattice, hashed from a seed (no tables, thread-safe, deterministic).
/// Values lie in about [-1, 1]; `fbm` sums octaves.
struct ValueNoise: Sendable {
    let seed: UInt64

    @inline(__always)
    private func lattice(_ x: Int32, _ y: Int32, _ z: Int32) -> Float {
        var h = seed
        h ^= UInt64(UInt32(bitPattern: x)) &* 0x9E37_79B1
        h ^= UInt64(UInt32(bitPattern: y)) &* 0x85EB_CA77 << 20
        h ^= UInt64(UInt32(bitPattern: z)) &* 0xC2B2_AE3D << 40
        h = PhantomRandom.mix(h)
        return Float(h >> 40) * (2.0 / Float(1 << 24)) - 1
    }

    /// Noise at a point given in lattice units.
    @inline(__always)
    func sample(_ x: Float, _ y: Float, _ z: Float) -> Float {
        let fx = x.rounded(.down), fy = y.rounded(.down), fz = z.rounded(.down)
        let ix = Int32(fx), iy = Int32(fy), iz = Int32(fz)
        var tx = x - fx, ty = y - fy, tz = z - fz
        tx = tx * tx * (3 - 2 * tx); ty = ty * ty * (3 - 2 * ty); tz = tz * tz * (3 - 2 * tz)
        let c000 = lattice(ix, iy, iz), c100 = lattice(ix + 1, iy, iz)
        let c010 = lattice(ix, iy + 1, iz), c110 = lattice(ix + 1, iy + 1, iz)
        let c001 = lattice(ix, iy, iz + 1), c101 = lattice(ix + 1, iy, iz + 1)
        let c011 = lattice(ix, iy + 1, iz + 1), c111 = lattice(ix + 1, iy + 1, iz + 1)
        let x00 = c000 + (c100 - c000) * tx, x10 = c010 + (c110 - c010) * tx
        let x01 = c001 + (c101 - c001) * tx, x11 = c011 + (c111 - c011) * tx
        let y0 = x00 + (x10 - x00) * ty, y1 = x01 + (x11 - x01) * ty
        return y0 + (y1 - y0) * tz
    }

    /// Two-octave fractal noise, about [-1, 1].
    @inline(__always)
    func fbm(_ x: Float, _ y: Float, _ z: Float) -> Float {
        0.67 * sample(x, y, z) + 0.33 * sample(2.03 * x + 17.1, 2.03 * y - 5.3, 2.03 * z + 9.7)
    }
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
func inverseNormalCDF(_ p: Double) -> Double {
    let p = min(max(p, 1e-12), 1 - 1e-12)
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
             -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
             -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
             4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let lo = 0.02425
    if p < lo {
        let q = (-2 * log(p)).squareRoot()
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p > 1 - lo {
        let q = (-2 * log(1 - p)).squareRoot()
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    let q = p - 0.5, r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
}

@inline(__always) func smoothstep(_ e0: Float, _ e1: Float, _ x: Float) -> Float {
    let t = min(max((x - e0) / (e1 - e0), 0), 1)
    return t * t * (3 - 2 * t)
}

@inline(__always) func lerp(_ a: Double, _ b: Double, _ t: Double) -> Double { a + (b - a) * t }
