import Foundation
import LegSegIO

/// What to generate.
public struct PhantomOptions: Sendable, Codable {
    public var legs: LegSelection = .both
    /// Body regions the field of view covers (from the lowest to the highest listed region).
    public var regions: [BodyRegion] = BodyRegion.allCases
    /// Length of the field of view along the leg in mm, placed at random inside `regions`; nil = all of them.
    public var fieldOfViewLengthMM: Double?
    /// Voxel size (i, j, k) in mm: in-plane, in-plane, slice.
    public var voxelSize: [Double] = [1.5, 1.5, 6]
    /// In-plane matrix (i, j); nil = the body plus a random margin.
    public var matrix: [Int]?
    public var contrast: ImageContrast = .outPhase
    /// Disease severity 0 (healthy) ... 1 (end stage); nil = healthy.
    public var diseaseSeverity: Double?
    /// Disease pattern; nil = random when severity > 0.
    public var diseasePattern: DiseasePattern?
    /// Random per-tissue water and fat gains (training robustness).
    public var randomiseContrast = false
    /// Signal-to-noise range (muscle signal / noise sigma); one value is drawn per case.
    public var snrRange: [Double] = [15, 60]
    /// Strength of the smooth receive (bias) field.
    public var biasStrength = 0.4
    /// Label table of the label map.
    public var labelTable: LabelTables.Table = .standardized
    /// Array orientation of the written volumes ("LPS" = LegSeg canonical, or "RAS" like the QMRITools data).
    public var orientation = "LPS"
    /// In-plane and through-plane step of the fine simulation grid (mm).
    public var fineStepMM = 0.5
    public var fineSliceStepMM = 2.0
    /// Spacing of fitted cross-section levels along the leg, and the grid step of the area fit (mm).
    public var levelSpacingMM = 10.0
    public var fitStepMM = 2.5

    public init() {}
}

/// One generated phantom.
public struct PhantomCase: Sendable {
    public var name: String
    /// Images by contrast (out-phase, in-phase, water, fat: those requested).
    public var images: [(contrast: ImageContrast, volume: Volume<Float>)]
    public var labels: Volume<UInt8>
    public var metadata: PhantomMetadata
}

/// Everything about a phantom that is not voxels; written as NAME.json.
public struct PhantomMetadata: Sendable, Codable {
    public var name: String
    public var generator = "LegSeg phantom 1"
    public var seed: UInt64
    public var caseIndex: Int
    public var shape: [Int]
    public var voxelSizeMM: [Double]
    /// Voxel-to-world affine (RAS+ mm), row-major 4x4.
    public var affine: [[Double]]
    public var orientation: String
    public var legs: [String]
    public var labelTable: String
    public var labelNames: [String: String]
    /// Body region of each slice along the array's superior axis, first slice first.
    public var sliceRegions: [String]
    public var images: [String]
    public var subject: SubjectParameters
    public var signal: SignalModel
    public var options: PhantomOptions
    /// Volume (cm3) of every label in the written map.
    public var labelVolumesCM3: [String: Double]
    /// Model volume (cm3) of each whole muscle, by standardized label (the map holds only the part in view).
    public var muscleTargetVolumesCM3: [String: Double]
}

public struct PhantomError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

public enum PhantomGenerator {
    /// Generates case `index` of the series of `seed`. Deterministic: the same arguments give the same voxels.
    public static func generate(options: PhantomOptions, seed: UInt64, index: Int = 0, name: String? = nil) throws -> PhantomCase {
        try validate(options)
        var rng = PhantomRandom.stream(seed, UInt64(index))
        let subject = SubjectParameters.sample(rng: &rng, legs: options.legs, severity: options.diseaseSeverity,
                                               pattern: options.diseasePattern)
        return try generate(subject: subject, options: options, seed: seed, index: index, rng: &rng,
                            name: name ?? String(format: "phantom_%04d", index))
    }

    static func validate(_ o: PhantomOptions) throws {
        guard o.voxelSize.count == 3, o.voxelSize.allSatisfy({ $0 >= 0.3 && $0 <= 30 }) else {
            throw PhantomError("voxel size must be three values between 0.3 and 30 mm, got \(o.voxelSize)")
        }
        guard !o.regions.isEmpty else { throw PhantomError("no body region selected") }
        guard o.snrRange.count == 2, o.snrRange[0] > 0, o.snrRange[1] >= o.snrRange[0] else {
            throw PhantomError("SNR range must be two positive values, low first, got \(o.snrRange)")
        }
        if let s = o.diseaseSeverity, !(0...1).contains(s) { throw PhantomError("disease severity must lie in 0...1, got \(s)") }
        guard Orientation(code: o.orientation) != nil else { throw PhantomError("unknown orientation code \(o.orientation)") }
        if let m = o.matrix, m.count != 2 || m.contains(where: { $0 < 8 || $0 > 2048 }) {
            throw PhantomError("matrix must be two sizes between 8 and 2048, got \(m)")
        }
        if let f = o.fieldOfViewLengthMM, f < o.voxelSize[2] { throw PhantomError("field of view length \(f) mm is shorter than one slice") }
    }

    /// z interval (subject mm) of a body region for a leg.
    static func zInterval(_ r: BodyRegion, _ g: LegGeometry) -> ClosedRange<Double> {
        switch r {
        case .hip: return g.z(thigh: 0.08)...g.z(thigh: -0.4)
        case .thigh: return g.z(thigh: 0.88)...g.z(thigh: 0.08)
        case .knee: return g.z(leg: 0.1)...g.z(thigh: 0.88)
        case .lowerLeg: return g.z(leg: 0.85)...g.z(leg: 0.1)
        case .ankle: return g.z(leg: 1.1)...g.z(leg: 0.85)
        }
    }

    static func region(at z: Double, _ g: LegGeometry) -> BodyRegion {
        for r in [BodyRegion.ankle, .lowerLeg, .knee, .thigh] where z < zInterval(r, g).upperBound { return r }
        return .hip
    }

    static func pelvisCore(subject: SubjectParameters, g: LegGeometry, both: Bool) -> @Sendable (Double) -> PelvisCore? {
        let hs = g.hs, zHip = g.zHip, lf = g.lf
        let fat = subject.fatThicknessMM * 1.2
        return { z in
            guard both else { return nil }
            let s = (zHip - z) / lf
            guard s < 0.1 else { return nil }
            let t = min(1, max(0, (0.1 - s) / 0.2))  // 0 at the perineum, 1 above the hip
            let up = min(1, max(0, -s / 0.4))
            let halfW = (40 + 30 * t + 20 * up) * hs, halfD = (35 + 30 * t + 15 * up) * hs
            var sacrum: BoneShape?
            if s < -0.05 && s > -0.5 {
                let u = min(1, (-0.05 - s) / 0.35)
                sacrum = BoneShape(c: Vec2(0, (62 + 10 * u) * hs), ax: (18 + 30 * u) * hs, ay: (14 + 3 * u) * hs, angle: 0,
                                   cortex: 2, label: L.sacrum, redMarrow: true)
            }
            var core = PelvisCore(centre: Vec2(0, (12 + 18 * up) * hs), halfWidth: halfW, halfDepth: halfD, sacrum: sacrum, fat: fat)
            // Bladder behind the pubis from the symphysis up; rectum in front of the sacrum / coccyx.
            if s < 0.04 && s > -0.3 {
                let b = min(1, (0.04 - s) / 0.12) * max(0, min(1, (s + 0.3) / 0.1))
                core.bladder = BoneShape(c: Vec2(0, (-22 + 6 * up) * hs), ax: 38 * b * hs + 1, ay: 26 * b * hs + 1, angle: 0,
                                         cortex: 0, label: 0, redMarrow: false)
            }
            if s < 0.08 && s > -0.35 {
                core.rectum = BoneShape(c: Vec2(0, (35 + 12 * up) * hs), ax: 15 * hs, ay: 12 * hs, angle: 0, cortex: 0, label: 0,
                                        redMarrow: false)
            }
            return core
        }
    }

    static func generate(subject: SubjectParameters, options o: PhantomOptions, seed: UInt64, index: Int,
                         rng: inout PhantomRandom, name: String) throws -> PhantomCase {
        let sides = o.legs.sides
        let ref = LegGeometry(subject: subject, leg: subject.legs[0])
        // Field of view along the leg.
        var zLo = Double.infinity, zHi = -Double.infinity
        for r in o.regions { let iv = zInterval(r, ref); zLo = min(zLo, iv.lowerBound); zHi = max(zHi, iv.upperBound) }
        if let len = o.fieldOfViewLengthMM, len < zHi - zLo {
            let start = zLo + rng.uniform(0, zHi - zLo - len)
            zLo = start; zHi = start + len
        }
        let dz = o.voxelSize[2]
        let nk = max(1, Int(((zHi - zLo) / dz).rounded()))
        let z0 = (zLo + zHi) / 2 - Double(nk - 1) * dz / 2

        let core = pelvisCore(subject: subject, g: ref, both: sides.count == 2)
        var legs: [LegModel] = []
        for leg in subject.legs {
            legs.append(LegModel(subject: subject, leg: leg, zRange: (z0 - dz)...(z0 + Double(nk) * dz), spacing: o.levelSpacingMM,
                                 fitStep: o.fitStepMM, core: core, rng: &rng))
        }
        // In-plane field of view: the body's extent over all slices plus a random margin.
        var xLo = Double.infinity, xHi = -Double.infinity, yLo = Double.infinity, yHi = -Double.infinity
        for m in legs {
            for lv in m.levels where lv.z >= z0 - dz && lv.z <= z0 + Double(nk) * dz {
                for i in 0..<envelopeBins {
                    let phi = LegModel.binAngle(i), r = lv.env[i] + lv.sat[i]
                    let x = lv.envCentre.x + r * cos(phi), y = lv.envCentre.y + r * sin(phi)
                    xLo = min(xLo, x); xHi = max(xHi, x); yLo = min(yLo, y); yHi = max(yHi, y)
                }
            }
        }
        let dx = o.voxelSize[0], dy = o.voxelSize[1]
        let ni: Int, nj: Int
        if let m = o.matrix { ni = m[0]; nj = m[1] } else {
            ni = Int(((xHi - xLo + 2 * rng.uniform(8, 40)) / dx).rounded(.up))
            nj = Int(((yHi - yLo + 2 * rng.uniform(8, 40)) / dy).rounded(.up))
        }
        let x0 = (xLo + xHi) / 2 + rng.uniform(-8, 8) - Double(ni - 1) * dx / 2
        let y0 = (yLo + yHi) / 2 + rng.uniform(-8, 8) - Double(nj - 1) * dy / 2
        guard ni * nj * nk <= 200_000_000 else { throw PhantomError("phantom grid \(ni)x\(nj)x\(nk) is too large") }

        let snr = exp(rng.uniform(log(o.snrRange[0]), log(o.snrRange[1])))
        let signal = SignalModel.make(rng: &rng, randomise: o.randomiseContrast, snr: snr, bias: o.biasStrength)
        let diseaseSeed = rng.nextUInt64()
        let noiseSeed = rng.nextUInt64()
        let grid = Grid(ni: ni, nj: nj, nk: nk, dx: dx, dy: dy, dz: dz, x0: x0, y0: y0, z0: z0)
        let wantedContrasts: [ImageContrast] = o.contrast == .all ? [.outPhase, .inPhase, .water, .fat] : [o.contrast]
        var renderer = Renderer(legs: legs, core: core, grid: grid, signal: signal, subject: subject,
                                diseaseSeed: diseaseSeed, fineStep: o.fineStepMM, fineSliceStep: o.fineSliceStepMM)
        if o.contrast == .t1Like { renderer.inPhaseWaterWeight = rng.uniform(0.3, 0.55) }  // drawn only here: other contrasts keep their bytes
        renderer.wanted = (wantedContrasts.contains(.outPhase), wantedContrasts.contains(.inPhase) || o.contrast == .t1Like,
                           wantedContrasts.contains(.water), wantedContrasts.contains(.fat))
        let out = renderer.render(noiseSeed: noiseSeed)

        // Canonical LPS affine: i toward the subject's left, j posterior, k superior; world is RAS+.
        let affine = Affine(rows: [[-dx, 0, 0, -x0], [0, -dy, 0, -y0], [0, 0, dz, z0], [0, 0, 0, 1]])
        let lut = LabelTables.translation(to: o.labelTable)
        var labels = Volume(shape: [ni, nj, nk], voxels: out.labels.map { lut[Int($0)] }, affine: affine)
        var volumes: [(ImageContrast, Volume<Float>)] = []
        let wanted: [ImageContrast] = o.contrast == .all ? [.outPhase, .inPhase, .water, .fat] : [o.contrast]
        for c in wanted {
            let v: [Float]
            switch c {
            case .outPhase: v = out.outPhase
            case .inPhase, .t1Like: v = out.inPhase  // the T1-like image is rendered in the in-phase slot
            case .water: v = out.water
            default: v = out.fat
            }
            volumes.append((c, Volume(shape: [ni, nj, nk], voxels: v, affine: affine)))
        }
        let target = Orientation(code: o.orientation)!
        if target != .canonical {
            labels = labels.reoriented(to: target).volume
            volumes = volumes.map { ($0.0, $0.1.reoriented(to: target).volume) }
        }
        // Slice regions follow the written k axis (superior for LPS and RAS).
        let kUp = Orientation(affine: labels.affine)!.towardSuperior
        var regions = (0..<nk).map { region(at: z0 + Double($0) * dz, ref).rawValue }
        if !kUp.increasing { regions.reverse() }
        var counts = [Int](repeating: 0, count: 256)
        for v in labels.voxels { counts[Int(v)] += 1 }
        let names = LabelTables.names(of: o.labelTable)
        var labelVolumes: [String: Double] = [:]
        for (l, c) in counts.enumerated() where c > 0 && l > 0 {
            labelVolumes[names[l] ?? String(l)] = Double(c) * dx * dy * dz / 1000
        }
        var targets: [String: Double] = [:]
        for leg in subject.legs {
            for m in Anatomy.muscles {
                let label = String(m.label + leg.side.labelOffset)
                targets[label] = m.volume(vTot: subject.totalMuscleVolumeCM3) * (leg.muscleScale[label] ?? 1)
            }
        }
        let meta = PhantomMetadata(name: name, seed: seed, caseIndex: index, shape: labels.shape, voxelSizeMM: [dx, dy, dz],
                                   affine: labels.affine.rows, orientation: o.orientation.uppercased(),
                                   legs: sides.map(\.rawValue), labelTable: o.labelTable.rawValue,
                                   labelNames: Dictionary(uniqueKeysWithValues: names.map { (String($0.key), $0.value) }),
                                   sliceRegions: regions, images: wanted.map(\.rawValue), subject: subject, signal: signal,
                                   options: o, labelVolumesCM3: labelVolumes, muscleTargetVolumesCM3: targets)
        return PhantomCase(name: name, images: volumes.map { (contrast: $0.0, volume: $0.1) }, labels: labels, metadata: meta)
    }
}
