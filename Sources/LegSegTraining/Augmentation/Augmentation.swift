import Foundation
import LegSegEngine
import LegSegIO

/// Deterministic random numbers (the engine's SplitMix64 stream): the same seed gives the same augmentations on
/// every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var bits: SplitMix64
    public init(seed: UInt64) { bits = SplitMix64(seed: seed) }
    public mutating func next() -> UInt64 { bits.next() }
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }
    /// Standard normal (Box-Muller).
    public mutating func normal() -> Double {
        let u = max(Double.random(in: 0..<1, using: &self), 1e-300), v = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

/// One draw of augmentation parameters. All geometry is in millimetres about the volume's centre, on canonical
/// (LPS) volumes: i = x (right → left), j = y (anterior → posterior), k = z (inferior → superior).
public struct AugmentationParameters: Equatable, Sendable {
    /// Mirror left/right (axis i), swapping side-specific labels.
    public var mirror = false
    /// Rotation in radians about z (in-plane), x and y (through-plane).
    public var rotation = [0.0, 0.0, 0.0]
    /// Scale per axis (i, j, k); > 1 enlarges the anatomy.
    public var scale = [1.0, 1.0, 1.0]
    /// In-plane shear: x += skew · y.
    public var skew = 0.0
    /// Translation in mm (i, j, k).
    public var translationMM = [0.0, 0.0, 0.0]
    /// Gaussian blur σ in voxels (in-plane) when > 0; sharpening amount (unsharp mask) when < 0.
    public var blur = 0.0
    /// Intensity: v ← brightness · max(v, 0)^gamma (after normalising to the volume's maximum).
    public var gamma = 1.0
    public var brightness = 1.0
    /// Multiplicative smooth bias field: exp of a random linear-plus-quadratic polynomial with this amplitude.
    public var biasAmplitude = 0.0
    /// Rician noise σ as a fraction of the volume's maximum.
    public var noise = 0.0
    /// Slices removed (set to 0) at the bottom and top.
    public var cutSlices = [0, 0]
    /// Seed of the random fields (noise, bias).
    public var fieldSeed: UInt64 = 0

    public init() {}

    public var isIdentity: Bool { self == AugmentationParameters() }
}

/// Ranges the augmentations are drawn from (defaults after spec §4.3, with the intensity augmentations of §6.7).
public struct AugmentationRanges: Codable, Equatable, Sendable {
    public var mirrorProbability = 0.5
    public var inPlaneRotationDegrees = 15.0
    public var throughPlaneRotationDegrees = 3.0
    public var scale = 0.15
    public var skew = 0.1
    public var translationMM = 10.0
    public var blurProbability = 0.2
    public var gamma = 0.3
    public var brightness = 0.2
    public var bias = 0.3
    public var noise = 0.05
    public var cutProbability = 0.2
    public init() {}

    public func draw(using g: inout SeededGenerator, slices: Int) -> AugmentationParameters {
        var p = AugmentationParameters()
        p.mirror = g.uniform(0...1) < mirrorProbability
        let inPlane = inPlaneRotationDegrees * .pi / 180, through = throughPlaneRotationDegrees * .pi / 180
        p.rotation = [g.uniform(-inPlane...inPlane), g.uniform(-through...through), g.uniform(-through...through)]
        let s = g.uniform(-scale...scale)
        p.scale = [1 + s + g.uniform(-scale / 3...scale / 3), 1 + s + g.uniform(-scale / 3...scale / 3), 1 + g.uniform(-scale / 2...scale / 2)]
        p.skew = g.uniform(-skew...skew)
        p.translationMM = (0..<3).map { _ in g.uniform(-translationMM...translationMM) }
        if g.uniform(0...1) < blurProbability { p.blur = g.uniform(-1...1.2) }
        p.gamma = exp(g.uniform(-gamma...gamma))
        p.brightness = 1 + g.uniform(-brightness...brightness)
        p.biasAmplitude = g.uniform(0...bias)
        p.noise = g.uniform(0...noise)
        if g.uniform(0...1) < cutProbability { p.cutSlices = [Int(g.uniform(0...Double(slices) / 6)), Int(g.uniform(0...Double(slices) / 6))] }
        p.fieldSeed = g.next()
        return p
    }
}

/// Applies augmentation parameters to an image and its label map (same grid): one resampling for all geometry
/// (linear for the image, nearest for labels), then intensity changes to the image only.
public struct Augmenter: Sendable {
    /// Label swapped with each label when mirroring (e.g. left ↔ right entries of the standardized table).
    public var mirrorLabels: [Int: Int]

    public init(mirrorLabels: [Int: Int] = Augmenter.standardizedSidePairs) { self.mirrorLabels = mirrorLabels }

    /// Odd (left) ↔ even (right) labels of the standardized table; unsided labels map to themselves.
    public static var standardizedSidePairs: [Int: Int] {
        var pairs: [Int: Int] = [:]
        for s in LabelTables.standardized where s.left != 0 {
            if let r = s.right { pairs[s.left] = r; pairs[r] = s.left }
        }
        return pairs
    }

    public func apply(_ p: AugmentationParameters, image: Volume<Float>, labels: Volume<UInt8>) -> (image: Volume<Float>, labels: Volume<UInt8>) {
        precondition(image.shape == labels.shape, "image and labels must share a grid")
        var (img, lab) = resample(image, labels, p)
        if p.mirror {
            for n in lab.voxels.indices { if let m = mirrorLabels[Int(lab.voxels[n])] { lab.voxels[n] = UInt8(m) } }
        }
        intensity(&img, p)
        if p.cutSlices != [0, 0] {
            let (nx, ny, nz) = (img.shape[0], img.shape[1], img.shape[2])
            for k in 0..<nz where k < p.cutSlices[0] || k >= nz - p.cutSlices[1] {
                for n in (k * nx * ny)..<((k + 1) * nx * ny) { img.voxels[n] = 0; lab.voxels[n] = 0 }
            }
        }
        return (img, lab)
    }

    /// Output index → input index map: mirror, then rotation/scale/skew about the centre in mm, then translation.
    func inverseMap(_ p: AugmentationParameters, shape: [Int], spacing: [Double]) -> (matrix: [[Double]], offset: [Double]) {
        // Forward transform A (in mm, about the centre): anatomy at p moves to A·p + t. We need the inverse.
        let (cz, sz) = (cos(p.rotation[0]), sin(p.rotation[0]))
        let (cx, sx) = (cos(p.rotation[1]), sin(p.rotation[1]))
        let (cy, sy) = (cos(p.rotation[2]), sin(p.rotation[2]))
        let rz = [[cz, -sz, 0], [sz, cz, 0], [0, 0, 1.0]]
        let rx = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]]
        let ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]
        let shear = [[1, p.skew, 0], [0, 1, 0], [0, 0, 1.0]]
        let scale = [[p.scale[0], 0, 0], [0, p.scale[1], 0], [0, 0, p.scale[2]]]
        let forward = mul(rz, mul(rx, mul(ry, mul(shear, scale))))
        let inverse = invert3(forward)
        let centre = shape.map { Double($0 - 1) / 2 }
        // input_idx = S⁻¹ · A⁻¹ · (S · (out_idx − c) − t) + c, with S = diag(spacing).
        var m = [[Double]](repeating: [0, 0, 0], count: 3)
        for r in 0..<3 { for c in 0..<3 { m[r][c] = inverse[r][c] * spacing[c] / spacing[r] } }
        var offset = [0.0, 0.0, 0.0]
        for r in 0..<3 {
            var s = centre[r]
            for c in 0..<3 { s -= m[r][c] * centre[c] + inverse[r][c] * p.translationMM[c] / spacing[r] }
            offset[r] = s
        }
        return (m, offset)
    }

    func resample(_ image: Volume<Float>, _ labels: Volume<UInt8>, _ p: AugmentationParameters) -> (Volume<Float>, Volume<UInt8>) {
        let geometryIdentity = p.rotation == [0, 0, 0] && p.scale == [1, 1, 1] && p.skew == 0 && p.translationMM == [0, 0, 0]
        if geometryIdentity && !p.mirror { return (image, labels) }
        let shape = image.shape
        let (m, offset) = inverseMap(p, shape: shape, spacing: image.spacing)
        var img = image, lab = labels
        let (nx, ny, nz) = (shape[0], shape[1], shape[2])
        for k in 0..<nz { for j in 0..<ny { for i in 0..<nx {
            let io = p.mirror ? Double(nx - 1 - i) : Double(i)  // mirroring reads the input from the other side
            let q = (0..<3).map { r in m[r][0] * io + m[r][1] * Double(j) + m[r][2] * Double(k) + offset[r] }
            let n = i + nx * (j + ny * k)
            img.voxels[n] = Augmenter.linear(image, q)
            let (a, b, c) = (Int(q[0].rounded()), Int(q[1].rounded()), Int(q[2].rounded()))
            lab.voxels[n] = (a >= 0 && b >= 0 && c >= 0 && a < nx && b < ny && c < nz) ? labels[a, b, c] : 0
        } } }
        return (img, lab)
    }

    /// Trilinear interpolation; 0 outside the volume.
    static func linear(_ v: Volume<Float>, _ q: [Double]) -> Float {
        let f = q.map { floor($0) }
        let i0 = Int(f[0]), j0 = Int(f[1]), k0 = Int(f[2])
        let (dx, dy, dz) = (Float(q[0] - f[0]), Float(q[1] - f[1]), Float(q[2] - f[2]))
        func at(_ i: Int, _ j: Int, _ k: Int) -> Float {
            (i >= 0 && j >= 0 && k >= 0 && i < v.shape[0] && j < v.shape[1] && k < v.shape[2]) ? v[i, j, k] : 0
        }
        var s: Float = 0
        for (c, wz) in [(0, 1 - dz), (1, dz)] where wz != 0 {
            for (b, wy) in [(0, 1 - dy), (1, dy)] where wy != 0 {
                for (a, wx) in [(0, 1 - dx), (1, dx)] where wx != 0 { s += wx * wy * wz * at(i0 + a, j0 + b, k0 + c) }
            }
        }
        return s
    }

    func intensity(_ img: inout Volume<Float>, _ p: AugmentationParameters) {
        let top = img.voxels.max() ?? 0
        guard top > 0 else { return }
        var g = SeededGenerator(seed: p.fieldSeed)
        if p.blur != 0 {
            let sigma = abs(p.blur)
            let blurred = gaussianInPlane(img.voxels, shape: img.shape, sigma: max(sigma, 0.3))
            if p.blur > 0 { img.voxels = blurred } else {
                for n in img.voxels.indices { img.voxels[n] = max(0, img.voxels[n] + Float(sigma) * (img.voxels[n] - blurred[n])) }
            }
        }
        let coefficients = (0..<9).map { _ in g.normal() * p.biasAmplitude / 3 }
        let (nx, ny, nz) = (img.shape[0], img.shape[1], img.shape[2])
        for k in 0..<nz { for j in 0..<ny { for i in 0..<nx {
            let n = i + nx * (j + ny * k)
            var v = Double(img.voxels[n]) / Double(top)
            v = p.brightness * pow(max(v, 0), p.gamma)
            if p.biasAmplitude > 0 {
                let x = 2 * Double(i) / Double(max(nx - 1, 1)) - 1, y = 2 * Double(j) / Double(max(ny - 1, 1)) - 1
                let z = 2 * Double(k) / Double(max(nz - 1, 1)) - 1
                let c = coefficients
                v *= exp(c[0] * x + c[1] * y + c[2] * z + c[3] * x * x + c[4] * y * y + c[5] * z * z + c[6] * x * y + c[7] * y * z + c[8] * x * z)
            }
            // Rician: magnitude of the signal plus complex Gaussian noise — inside the body only: inputs are
            // prepared with an exact-zero background (`Segmenter.prepare`), and noise there would shift the
            // histogram normalisation away from what `segment` feeds the network.
            if p.noise > 0 && img.voxels[n] > 0 {
                let re = v + p.noise * g.normal(), im = p.noise * g.normal()
                v = (re * re + im * im).squareRoot()
            }
            img.voxels[n] = Float(v * Double(top))
        } } }
    }

    func gaussianInPlane(_ v: [Float], shape: [Int], sigma: Double) -> [Float] {
        let r = max(1, Int((2.5 * sigma).rounded(.up)))
        let kernel = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        var out = v, tmp = v
        let (nx, ny) = (shape[0], shape[1])
        for pass in 0..<2 {
            let src = pass == 0 ? v : tmp
            for k in 0..<shape[2] { for j in 0..<ny { for i in 0..<nx {
                var s = 0.0
                for (o, w) in kernel.enumerated() {
                    let d = o - r
                    let (a, b) = pass == 0 ? (min(nx - 1, max(0, i + d)), j) : (i, min(ny - 1, max(0, j + d)))
                    s += w * Double(src[a + nx * (b + ny * k)])
                }
                if pass == 0 { tmp[i + nx * (j + ny * k)] = Float(s / total) } else { out[i + nx * (j + ny * k)] = Float(s / total) }
            } } }
        }
        return out
    }
}

func mul(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
    (0..<3).map { r in (0..<3).map { c in (0..<3).reduce(0) { $0 + a[r][$1] * b[$1][c] } } }
}

func invert3(_ m: [[Double]]) -> [[Double]] {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    let c: [[Double]] = [
        [m[1][1] * m[2][2] - m[1][2] * m[2][1], m[0][2] * m[2][1] - m[0][1] * m[2][2], m[0][1] * m[1][2] - m[0][2] * m[1][1]],
        [m[1][2] * m[2][0] - m[1][0] * m[2][2], m[0][0] * m[2][2] - m[0][2] * m[2][0], m[0][2] * m[1][0] - m[0][0] * m[1][2]],
        [m[1][0] * m[2][1] - m[1][1] * m[2][0], m[0][1] * m[2][0] - m[0][0] * m[2][1], m[0][0] * m[1][1] - m[0][1] * m[1][0]],
    ]
    return c.map { $0.map { $0 / det } }
}
