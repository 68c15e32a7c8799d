import Foundation

// Cross-sections of one leg. Every `levelSpacing` mm along the leg a Level is fitted: the deep fascia outline
// (envelope) and, for each muscle present, a "banana" blob around its bone's pole whose weight is tuned so the
// muscle's area matches its target (volume x profile). A point inside the envelope belongs to the muscle with the
// highest score; borders between blobs of different size are conics, so muscles come out rounded with curved
// septa, and the banana coordinates let deep muscles (VI, soleus) wrap around bones.

let envelopeBins = 96

/// A muscle's blob at one level.
struct MuscleState: Sendable {
    var present = false
    /// 0 = thigh pole (femoral shaft), 1 = lower-leg pole (interosseous membrane).
    var pole = 0
    /// World angle (radians) of the blob centre around its pole, its radius from the pole, half-extents.
    var theta = 0.0, rc = 0.0, a = 1.0, b = 1.0
    var logw = 0.0
    var target = 0.0
    var fitted = 0.0
    /// How far (in radial half-extents) the muscle may reach toward its pole; keeps superficial muscles such as
    /// rectus femoris off the bone.
    var innerReach = Double.infinity
    /// Such muscles also keep this distance (mm) from their pole: at least 5 mm off the bone surface.
    var minRadius = 0.0
}

struct Level: Sendable {
    var z: Double
    var envCentre: Vec2
    var env: [Double]
    var sat: [Double]
    var muscles: [MuscleState]
}

/// A structure drawn on top of muscle: vessel, nerve, tendon.
struct DiscSpec: Sendable {
    let frame: Frame
    let keys: [(s: Double, angle: Double, depth: Double)]
    let radius: Double
    let cuff: Double
    let tissue: Tissue
    var start: Double { keys.first!.s }
    var end: Double { keys.last!.s }
    func position(_ s: Double) -> (Double, Double) {
        if s <= keys[0].s { return (keys[0].angle, keys[0].depth) }
        for n in 1..<keys.count where s <= keys[n].s {
            let k0 = keys[n - 1], k1 = keys[n], t = (s - k0.s) / (k1.s - k0.s)
            var da = k1.angle - k0.angle
            if da > 180 { da -= 360 } else if da < -180 { da += 360 }
            return (k0.angle + da * t, lerp(k0.depth, k1.depth, t))
        }
        return (keys.last!.angle, keys.last!.depth)
    }
}

/// Main vessels and the sciatic nerve (leg-anatomy.md section 7). Depth > 1 = in the subcutaneous fat.
let vesselSpecs: [DiscSpec] = [
    DiscSpec(frame: .thigh, keys: [(-0.05, 300, 0.9), (0.05, 292, 0.85), (0.3, 272, 0.75), (0.6, 245, 0.5), (0.7, 212, 0.3)],
             radius: 3.5, cuff: 2, tissue: .vessel),  // femoral artery
    DiscSpec(frame: .thigh, keys: [(-0.05, 287, 0.85), (0.05, 282, 0.82), (0.3, 263, 0.68), (0.6, 238, 0.42), (0.7, 208, 0.25)],
             radius: 5, cuff: 1.5, tissue: .vessel),  // femoral vein
    DiscSpec(frame: .thigh, keys: [(0.1, 250, 0.35), (0.5, 215, 0.1)], radius: 2.5, cuff: 1.5, tissue: .vessel),  // profunda
    DiscSpec(frame: .thigh, keys: [(0.7, 212, 0.3), (0.8, 192, 0.12), (1.0, 182, 0.2), (1.05, 182, 0.25)],
             radius: 3.5, cuff: 2, tissue: .vessel),  // popliteal artery
    DiscSpec(frame: .thigh, keys: [(0.7, 208, 0.25), (0.8, 186, 0.25), (1.0, 178, 0.35), (1.05, 178, 0.4)],
             radius: 4.5, cuff: 1.5, tissue: .vessel),  // popliteal vein
    DiscSpec(frame: .leg, keys: [(-0.05, 185, 0.25), (0.15, 200, 0.25)], radius: 3.5, cuff: 2, tissue: .vessel),
    DiscSpec(frame: .leg, keys: [(0.15, 205, 0.3), (0.5, 220, 0.3), (0.85, 235, 0.45), (1.05, 250, 0.6)],
             radius: 2.5, cuff: 1.5, tissue: .vessel),  // posterior tibial
    DiscSpec(frame: .leg, keys: [(0.15, 20, 0.05), (0.5, 10, 0.08), (0.85, 0, 0.2), (1.0, 355, 0.4)],
             radius: 1.8, cuff: 1, tissue: .vessel),  // anterior tibial
    DiscSpec(frame: .leg, keys: [(0.2, 150, 0.1), (0.9, 150, 0.15)], radius: 1.8, cuff: 1, tissue: .vessel),  // fibular
    DiscSpec(frame: .thigh, keys: [(0.0, 185, 0.35), (0.3, 190, 0.45), (0.7, 180, 0.45), (0.9, 180, 0.55)],
             radius: 5, cuff: 2, tissue: .nerve),  // sciatic / tibial nerve
    DiscSpec(frame: .thigh, keys: [(-0.02, 290, 1.5), (0.5, 265, 1.5), (1.05, 235, 1.5)], radius: 2, cuff: 0, tissue: .vessel),
    DiscSpec(frame: .leg, keys: [(0.05, 235, 1.5), (0.5, 260, 1.5), (1.05, 290, 1.5)], radius: 2, cuff: 0, tissue: .vessel),
    DiscSpec(frame: .leg, keys: [(0.05, 180, 1.5), (1.0, 160, 1.5)], radius: 1.5, cuff: 0, tissue: .vessel),
]

/// The body outline of the pelvis between the legs (viscera, sacrum), shared by both legs.
struct PelvisCore: Sendable {
    var centre: Vec2
    var halfWidth: Double, halfDepth: Double
    var sacrum: BoneShape?
    var fat: Double
    /// Fluid-filled bladder (anterior) and rectum (posterior), as ellipses; nil where absent.
    var bladder: BoneShape? = nil
    var rectum: BoneShape? = nil
    @inline(__always) func signedDistance(_ p: Vec2) -> Double {
        let dx = (p.x - centre.x) / halfWidth, dy = (p.y - centre.y) / halfDepth
        return ((dx * dx + dy * dy).squareRoot() - 1) * min(halfWidth, halfDepth)
    }
}

/// One leg's model: geometry plus fitted levels.
struct LegModel: Sendable {
    let g: LegGeometry
    let levels: [Level]
    let zStart: Double, spacing: Double
    let satPhase: [Double]
    let fatBase: Double
    /// Smooth displacement field that makes septa wander (also used by the fit, so volumes stay right).
    let warp: ValueNoise

    init(subject: SubjectParameters, leg: LegParameters, zRange: ClosedRange<Double>, spacing: Double, fitStep: Double,
         core: (Double) -> PelvisCore?, rng: inout PhantomRandom) {
        g = LegGeometry(subject: subject, leg: leg)
        self.spacing = spacing
        satPhase = (0..<6).map { _ in rng.uniform(0, 2 * Double.pi) }
        let warp = ValueNoise(seed: rng.nextUInt64())
        self.warp = warp
        fatBase = subject.fatThicknessMM * leg.fatScale
        let z0 = zRange.lowerBound - spacing, z1 = zRange.upperBound + spacing
        zStart = z0
        let n = Int(((z1 - z0) / spacing).rounded(.up)) + 1
        let vTot = subject.totalMuscleVolumeCM3
        let cores = (0..<n).map { core(z0 + Double($0) * spacing) }
        let geometry = g, phases = satPhase, base = fatBase
        // Levels are independent: fit them in parallel (each writes only its own slot).
        var built = [Level?](repeating: nil, count: n)
        built.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let out = buffer.baseAddress!
            DispatchQueue.concurrentPerform(iterations: n) { j in
                let z = z0 + Double(j) * spacing
                out[j] = LegModel.buildLevel(g: geometry, z: z, vTot: vTot, satPhase: phases, fatBase: base,
                                             fitStep: fitStep, core: cores[j], warp: warp)
            }
        }
        levels = built.map { $0! }
    }

    // MARK: Targets and envelope

    static func targetAreas(g: LegGeometry, z: Double, vTot: Double) -> [Double] {
        Anatomy.muscles.map { m in
            let s = g.s(m.frame, z)
            let p = m.profile(at: s)
            guard p > 0 else { return 0 }
            let scale = g.params.muscleScale[String(m.label + g.side.labelOffset)] ?? 1
            let length = m.frame == .thigh ? g.lf : g.lt
            return m.volume(vTot: vTot) * 1000 * scale * p / (m.profileIntegral * length)
        }
    }

    /// Envelope centre offset (lateral, anterior in mm) and aspect (ML / AP) at z.
    static func envelopeShape(g: LegGeometry, z: Double) -> (lat: Double, ant: Double, aspect: Double) {
        func interp(_ keys: [(Double, Double, Double, Double)], _ s: Double) -> (Double, Double, Double) {
            if s <= keys[0].0 { return (keys[0].1, keys[0].2, keys[0].3) }
            for n in 1..<keys.count where s <= keys[n].0 {
                let t = (s - keys[n - 1].0) / (keys[n].0 - keys[n - 1].0)
                return (lerp(keys[n - 1].1, keys[n].1, t), lerp(keys[n - 1].2, keys[n].2, t), lerp(keys[n - 1].3, keys[n].3, t))
            }
            let k = keys[keys.count - 1]
            return (k.1, k.2, k.3)
        }
        let thigh = interp([(-0.45, -45, -20, 1.0), (-0.1, -40, -18, 1.0), (0.05, -42, -14, 1.15), (0.15, -32, -16, 1.15), (0.25, -20, -18, 1.1),
                            (0.5, -8, -20, 1.1), (0.8, -5, -16, 1.1), (1.0, 0, -12, 1.2)], g.sF(z))
        let leg = interp([(0.0, -25, 0, 1.15), (0.25, -8, -18, 1.0), (0.5, -6, -15, 1.0), (0.8, -8, -5, 1.1), (1.05, -12, 0, 1.2)], g.sT(z))
        let w = g.legWeight(z)
        return (lerp(thigh.0, leg.0, w) * g.hs, lerp(thigh.1, leg.1, w) * g.hs, lerp(thigh.2, leg.2, w))
    }

    /// Fat that is neither subcutaneous nor between muscles: popliteal fossa, Kager's fat pad, pelvic fat (mm2).
    static func fatAllowance(g: LegGeometry, z: Double, muscleArea: Double) -> Double {
        let sf = g.sF(z), st = g.sT(z)
        var extra = 0.05 * muscleArea
        let knee = max(0, 1 - abs(z - g.zKnee) / (0.12 * g.lf))
        extra += 800 * g.hs * g.hs * knee
        if st > 0.75 { extra += 450 * g.hs * g.hs * min(1, (st - 0.75) / 0.2) }
        if sf < 0.05 { extra += 0.12 * muscleArea }
        return extra
    }

    static func satThickness(g: LegGeometry, z: Double, fatBase: Double) -> Double {
        let sf = g.sF(z), st = g.sT(z)
        if sf < 0.1 { return fatBase * lerp(1.4, 1.0, max(0, sf + 0.3) / 0.4) }
        if sf < 0.9 { return fatBase }
        if st < 0.1 { return fatBase * 0.8 }
        if st < 0.7 { return fatBase * lerp(0.8, 0.6, (st - 0.1) / 0.6) }
        return fatBase * lerp(0.6, 0.45, min(1, (st - 0.7) / 0.35))
    }

    @inline(__always) static func lookup(_ table: [Double], _ phi: Double) -> Double {
        var f = (phi + Double.pi) / (2 * Double.pi) * Double(envelopeBins)
        if f < 0 { f += Double(envelopeBins) }
        let i0 = Int(f) % envelopeBins
        let t = f - f.rounded(.down)
        let i1 = (i0 + 1) % envelopeBins
        return table[i0] + (table[i1] - table[i0]) * t
    }

    static func binAngle(_ i: Int) -> Double { -Double.pi + (Double(i) + 0.0) * 2 * Double.pi / Double(envelopeBins) }

    static func area(_ r: [Double]) -> Double { r.reduce(0) { $0 + $1 * $1 } * Double.pi / Double(envelopeBins) }

    /// Distance from `o` along unit `d` to where the envelope is left.
    static func envelopeExit(centre: Vec2, env: [Double], from o: Vec2, dir d: Vec2) -> Double {
        func inside(_ t: Double) -> Bool {
            let p = o + d * t
            let dx = p.x - centre.x, dy = p.y - centre.y
            return (dx * dx + dy * dy).squareRoot() < lookup(env, atan2(dy, dx))
        }
        if !inside(0) { return 0 }
        var lo = 0.0, hi = 2.0
        while inside(hi) && hi < 600 { lo = hi; hi += 2 }
        for _ in 0..<8 { let mid = 0.5 * (lo + hi); if inside(mid) { lo = mid } else { hi = mid } }
        return lo
    }

    static func boneExit(_ bones: [BoneShape], from o: Vec2, dir d: Vec2) -> Double {
        var best = 0.0
        for b in bones where b.label != L.ilium && b.label != L.ilium + 1 {
            if let t = b.rayExit(from: o, dir: d), t < 120 { best = max(best, t) }
        }
        return best
    }

    /// Places the blobs of all muscles with a positive target, given an envelope.
    static func place(g: LegGeometry, z: Double, targets: [Double], poles: [Vec2], bones: [BoneShape],
                      centre: Vec2, env: [Double]) -> [MuscleState] {
        var out = [MuscleState](repeating: MuscleState(), count: targets.count)
        for (i, m) in Anatomy.muscles.enumerated() where targets[i] > 2 {
            let s = g.s(m.frame, z)
            let (angle, depth) = m.position(at: s)
            let dir = g.direction(clock: angle)
            let pi = m.frame == .thigh ? 0 : 1
            let pole = poles[pi]
            let rIn = boneExit(bones, from: pole, dir: dir)
            let rOut = max(rIn + 4, envelopeExit(centre: centre, env: env, from: pole, dir: dir))
            let A = max(targets[i], 20)
            var a = (A * m.aspect / Double.pi).squareRoot(), b = (A / (m.aspect * Double.pi)).squareRoot()
            let span = rOut - rIn
            let bb = min(b, span / 2)
            let rc = rIn + bb + depth * max(0, span - 2 * bb)
            a = min(a, Double.pi * 0.9 * rc)
            b = max(b, 1)
            out[i] = MuscleState(present: true, pole: pi, theta: atan2(dir.y, dir.x), rc: rc, a: a, b: b, logw: 0,
                                 target: targets[i], fitted: 0, innerReach: m.innerReach,
                                 minRadius: m.innerReach.isFinite ? rIn + 5 * g.hs : 0)
        }
        return out
    }

    /// Vessels, nerves and tendons at level z.
    static func discs(g: LegGeometry, z: Double, poles: [Vec2], bones: [BoneShape], centre: Vec2, env: [Double], sat: [Double]) -> [Disc] {
        var out: [Disc] = []
        func place(frame: Frame, angle: Double, depth: Double, radius: Double, cuff: Double, tissue: Tissue) {
            let dir = g.direction(clock: angle)
            let pole = poles[frame == .thigh ? 0 : 1]
            let rIn = boneExit(bones, from: pole, dir: dir)
            let rOut = envelopeExit(centre: centre, env: env, from: pole, dir: dir)
            let rr = radius + cuff
            var rc: Double
            if depth > 1 {
                let p = pole + dir * rOut
                let phi = atan2(p.y - centre.y, p.x - centre.x)
                rc = rOut + (depth - 1) * lookup(sat, phi) * 0.9
            } else {
                rc = rIn + rr + depth * max(0, rOut - rIn - 2 * rr)
            }
            out.append(Disc(c: pole + dir * rc, r: radius, cuff: cuff, tissue: tissue))
        }
        for v in vesselSpecs {
            let s = g.s(v.frame, z)
            guard s >= v.start && s <= v.end else { continue }
            let (a, d) = v.position(s)
            place(frame: v.frame, angle: a, depth: d, radius: v.radius * g.hs, cuff: v.cuff, tissue: v.tissue)
        }
        for m in Anatomy.muscles {
            let s = g.s(m.frame, z)
            var area = 0.0
            if let te = m.tendonEnd, s > m.end - 0.02, s <= te { area = m.tendonArea }
            if m.label == L.semimembranosus && s > 0.08 && s < 0.3 { area = 30 }  // long proximal tendon
            guard area > 0 else { continue }
            let (a, d) = m.position(at: s)
            place(frame: m.frame, angle: a, depth: d, radius: (area / Double.pi).squareRoot() * g.hs, cuff: 0.6, tissue: .tendon)
        }
        // Patellar tendon: patella to tibial tuberosity.
        if g.sF(z) > 0.955 && g.sT(z) < 0.1 {
            out.append(Disc(c: g.tibiaAxis(z) + g.worldOffset(lat: 0, ant: 34 * g.hs), r: 7 * g.hs, cuff: 0, tissue: .tendon))
        }
        return out
    }

    static func buildLevel(g: LegGeometry, z: Double, vTot: Double, satPhase: [Double], fatBase: Double,
                           fitStep: Double, core: PelvisCore?, warp: ValueNoise) -> Level {
        let poles = [g.femurAxis(z), g.iomPole(z)]
        let bones = g.bones(at: z)
        let targets = targetAreas(g: g, z: z, vTot: vTot)
        let muscleArea = targets.reduce(0, +)
        let boneArea = bones.reduce(0.0) { $0 + Double.pi * $1.ax * $1.ay } * 0.85
        let shape = envelopeShape(g: g, z: z)
        let w = g.legWeight(z)
        let base = Vec2.lerp(poles[0], poles[1], w)
        let centre = base + g.worldOffset(lat: shape.lat, ant: shape.ant)
        let total = muscleArea + boneArea + fatAllowance(g: g, z: z, muscleArea: muscleArea) + 150 * g.hs * g.hs
        // 1. Provisional elliptic envelope of the right area.
        let ra = (total * shape.aspect / Double.pi).squareRoot(), rb = (total / (shape.aspect * Double.pi)).squareRoot()
        var env = (0..<envelopeBins).map { i -> Double in
            let phi = binAngle(i)
            return ra * rb / ((rb * cos(phi)) * (rb * cos(phi)) + (ra * sin(phi)) * (ra * sin(phi))).squareRoot()
        }
        // 2. Place blobs, then let the outline follow them (smoothed union), rescaled to the target area.
        var muscles = place(g: g, z: z, targets: targets, poles: poles, bones: bones, centre: centre, env: env)
        var blob = [Double](repeating: 0, count: envelopeBins)
        var boneR = [Double](repeating: 0, count: envelopeBins)
        for i in 0..<envelopeBins {
            let phi = binAngle(i)
            let d = Vec2(cos(phi), sin(phi))
            boneR[i] = boneExit(bones, from: centre, dir: d)
            var r = boneR[i] + 2
            for ms in muscles where ms.present {
                let pole = poles[ms.pole]
                let c = pole + Vec2(cos(ms.theta), sin(ms.theta)) * ms.rc
                let shapeE = BoneShape(c: c, ax: ms.b * 1.2, ay: ms.a * 1.1, angle: ms.theta, cortex: 0, label: 0, redMarrow: false)
                if let t = shapeE.rayExit(from: centre, dir: d) { r = max(r, t) }
            }
            blob[i] = r
        }
        for _ in 0..<40 {
            let prev = blob
            for i in 0..<envelopeBins {
                blob[i] = 0.25 * prev[(i + envelopeBins - 1) % envelopeBins] + 0.5 * prev[i] + 0.25 * prev[(i + 1) % envelopeBins]
            }
        }
        // Mostly the smooth ellipse: real limbs are rounded; the blob union only bulges it where muscles are.
        for i in 0..<envelopeBins { env[i] = 0.65 * env[i] + 0.35 * blob[i] }
        let scale = (total / area(env)).squareRoot()
        var clamped = [Bool](repeating: false, count: envelopeBins)
        for i in 0..<envelopeBins {
            env[i] *= scale
            let minimum = boneR[i] + 1.2 * g.hs
            if env[i] < minimum + 3 { clamped[i] = env[i] < minimum + 1; env[i] = max(env[i], minimum) }
        }
        // 3. Subcutaneous fat: thicker posterolaterally and proximally, 1-3 mm over the anteromedial tibia.
        let t0 = satThickness(g: g, z: z, fatBase: fatBase)
        var sat = [Double](repeating: t0, count: envelopeBins)
        for i in 0..<envelopeBins {
            let phi = binAngle(i)
            // local clock angle of this world direction
            let wx = cos(phi) * g.sign, wy = -sin(phi)
            let c = cos(g.rotation), s = sin(g.rotation)
            let lat = wx * c - wy * s, ant = wx * s + wy * c
            let clock = atan2(lat, ant)
            var f = 1 + 0.2 * cos(clock - 150 * Double.pi / 180)
            f += 0.12 * sin(clock + satPhase[0]) + 0.08 * sin(2 * clock + satPhase[1]) + 0.05 * sin(3 * clock + satPhase[2])
            sat[i] = max(1.2, t0 * f)
            if clamped[i] { sat[i] = min(sat[i], 2.2 * g.hs) }
        }
        for _ in 0..<2 {
            let prev = sat
            for i in 0..<envelopeBins { sat[i] = 0.25 * prev[(i + envelopeBins - 1) % envelopeBins] + 0.5 * prev[i] + 0.25 * prev[(i + 1) % envelopeBins] }
        }
        // 4. Final placement in the final envelope, then fit the weights so that areas match the targets.
        muscles = place(g: g, z: z, targets: targets, poles: poles, bones: bones, centre: centre, env: env)
        let discs = discs(g: g, z: z, poles: poles, bones: bones, centre: centre, env: env, sat: sat)
        fit(&muscles, poles: poles, bones: bones, discs: discs, centre: centre, env: env, step: fitStep, core: core,
            warp: warp, z: z)
        return Level(z: z, envCentre: centre, env: env, sat: sat, muscles: muscles)
    }

    /// Adjusts each muscle's log-weight until its share of the envelope matches its target area.
    static func fit(_ muscles: inout [MuscleState], poles: [Vec2], bones: [BoneShape], discs: [Disc], centre: Vec2,
                    env: [Double], step: Double, core: PelvisCore?, warp: ValueNoise, z: Double) {
        let active = muscles.indices.filter { muscles[$0].present }
        guard !active.isEmpty else { return }
        let rMax = env.max()!
        let n = Int((2 * rMax / step).rounded(.up))
        var samples: [(r0: Double, t0: Double, r1: Double, t1: Double)] = []
        samples.reserveCapacity(n * n)
        for iy in 0..<n {
            for ix in 0..<n {
                let p = Vec2(centre.x - rMax + (Double(ix) + 0.5) * step, centre.y - rMax + (Double(iy) + 0.5) * step)
                let dx = p.x - centre.x, dy = p.y - centre.y
                guard (dx * dx + dy * dy).squareRoot() < lookup(env, atan2(dy, dx)) else { continue }
                if bones.contains(where: { $0.normalised(p) < 1 }) { continue }
                if discs.contains(where: { ($0.c - p).length < $0.r + $0.cuff }) { continue }
                if let core, core.signedDistance(p) < 0 { continue }
                let q = warped(p, z: z, warp: warp)
                let d0 = q - poles[0], d1 = q - poles[1]
                samples.append((d0.length, atan2(d0.y, d0.x), d1.length, atan2(d1.y, d1.x)))
            }
        }
        let cellArea = step * step
        var states = active.map { muscles[$0] }
        // Damped multiplicative updates with a decaying gain; keep the iterate with the smallest area error
        // (neighbouring blobs can trade whole regions, so plain fixed-gain updates may oscillate).
        var best = states, bestError = Double.infinity
        let iterations = 24
        for iteration in 0..<iterations {
            var counts = [Double](repeating: 0, count: states.count)
            for smp in samples {
                var top = -Double.infinity, bi = -1
                for k in states.indices {
                    let m = states[k]
                    let sc = m.pole == 0 ? blobScore(m, r: smp.r0, theta: smp.t0) : blobScore(m, r: smp.r1, theta: smp.t1)
                    if sc > top { top = sc; bi = k }
                }
                if bi >= 0 { counts[bi] += cellArea }
            }
            var error = 0.0
            for k in states.indices {
                states[k].fitted = counts[k]
                error += abs(counts[k] - states[k].target)
            }
            if error < bestError { bestError = error; best = states }
            if iteration == iterations - 1 { break }
            let gain = 0.8 * pow(0.9, Double(iteration))
            for k in states.indices {
                let ratio = states[k].target / max(counts[k], 0.5 * cellArea)
                states[k].logw += max(-1.0, min(1.0, gain * log(ratio)))
            }
        }
        states = best
        for (k, i) in active.enumerated() { muscles[i] = states[k] }
    }

    // MARK: Interpolated slice

    /// The level data at any z, linearly interpolated between fitted levels.
    func level(at z: Double) -> Level {
        let f = (z - zStart) / spacing
        let j = max(0, min(levels.count - 2, Int(f.rounded(.down))))
        let t = max(0, min(1, f - Double(j)))
        let a = levels[j], b = levels[j + 1]
        var muscles = a.muscles
        for i in muscles.indices {
            let ma = a.muscles[i], mb = b.muscles[i]
            if ma.present && mb.present {
                var dt = mb.theta - ma.theta
                if dt > Double.pi { dt -= 2 * Double.pi } else if dt < -Double.pi { dt += 2 * Double.pi }
                muscles[i] = MuscleState(present: true, pole: ma.pole, theta: ma.theta + dt * t, rc: lerp(ma.rc, mb.rc, t),
                                         a: lerp(ma.a, mb.a, t), b: lerp(ma.b, mb.b, t), logw: lerp(ma.logw, mb.logw, t),
                                         target: lerp(ma.target, mb.target, t), fitted: 0, innerReach: ma.innerReach,
                                         minRadius: lerp(ma.minRadius, mb.minRadius, t))
            } else if ma.present || mb.present {
                var m = ma.present ? ma : mb
                let tt = ma.present ? t : 1 - t
                m.logw -= 14 * tt
                m.a *= 1 - 0.5 * tt; m.b *= 1 - 0.5 * tt
                muscles[i] = m
            }
        }
        return Level(z: z, envCentre: Vec2.lerp(a.envCentre, b.envCentre, t),
                     env: zip(a.env, b.env).map { lerp($0, $1, t) }, sat: zip(a.sat, b.sat).map { lerp($0, $1, t) },
                     muscles: muscles)
    }
}

/// Amplitude (mm) of the smooth displacement that makes septa wander.
let warpAmplitude = 5.0

@inline(__always) func warped(_ p: Vec2, z: Double, warp: ValueNoise) -> Vec2 {
    let fx = Float(p.x / 32), fy = Float(p.y / 32), fz = Float(z / 80)
    return Vec2(p.x + warpAmplitude * Double(warp.sample(fx, fy, fz)),
                p.y + warpAmplitude * Double(warp.sample(fx + 31.7, fy - 12.1, fz + 5.3)))
}

/// A muscle claims only points within this many blob radii of its centre; what no muscle claims inside the
/// fascia is intermuscular fat (the small fat triangles where three muscles meet).
let blobReach = 3.2

/// Score of a point for a muscle: weight minus twice the normalised (banana) distance q. Linear in q, the borders
/// between blobs are Cartesian ovals / hyperbolae: curved even between muscles of similar size.
@inline(__always) func blobQ(_ m: MuscleState, r: Double, theta: Double) -> Double {
    var dt = theta - m.theta
    if dt > Double.pi { dt -= 2 * Double.pi } else if dt < -Double.pi { dt += 2 * Double.pi }
    let u = dt * m.rc / m.a, v = (r - m.rc) / m.b
    if v < -m.innerReach || r < m.minRadius { return Double.infinity }
    return (u * u + v * v).squareRoot()
}

/// A muscle claims a point only where its score exceeds -blobFloor (and within blobReach), so lowering a
/// weight shrinks a muscle even where no neighbour competes; the fit can then match every target.
let blobFloor = 4.0

@inline(__always) func blobScore(_ m: MuscleState, r: Double, theta: Double) -> Double {
    let q = blobQ(m, r: r, theta: theta)
    let s = m.logw - 2 * q
    return q < blobReach && s > -blobFloor ? s : -Double.infinity
}
