import Foundation

/// The acquisition grid in subject LPS millimetres: voxel (i, j, k) sits at (x0 + i dx, y0 + j dy, z0 + k dz).
struct Grid: Sendable {
    let ni: Int, nj: Int, nk: Int
    let dx: Double, dy: Double, dz: Double
    let x0: Double, y0: Double, z0: Double
}

struct RenderOutput: Sendable {
    var labels: [UInt8]
    var outPhase: [Float], inPhase: [Float], water: [Float], fat: [Float]
}

/// One leg's cross-section at one fine-grid z, ready for point queries (a class: the hot loop must not copy
/// and retain its arrays).
final class SliceLeg {
    let envCentre: Vec2
    let env: [Double]
    let skin: [Double]
    let poles: [Vec2]
    let bones: [BoneShape]
    let discs: [Disc]
    let muscles: [MuscleState]
    let muscleLabel: [UInt8]
    let muscleFF: [Double]
    let muscleThreshold: [Float]
    let muscleNoise: [ValueNoise]
    let muscleGain: [Double]
    let warp: ValueNoise
    let kneeCentre: Vec2?
    let reach: Double
    /// Bounding circle of each blob (centre x, y, radius squared) to skip far muscles cheaply.
    let muscleBounds: [(Double, Double, Double)]
    /// Displacement field sampled every `warpStep` mm over the leg's box, bilinearly interpolated.
    let warpGrid: [Float]
    let warpOrigin: Vec2, warpStep: Double, warpN: Int

    init(envCentre: Vec2, env: [Double], skin: [Double], poles: [Vec2], bones: [BoneShape], discs: [Disc],
         muscles: [MuscleState], muscleLabel: [UInt8], muscleFF: [Double], muscleThreshold: [Float],
         muscleNoise: [ValueNoise], muscleGain: [Double], warp: ValueNoise, kneeCentre: Vec2?, reach: Double, z: Double) {
        self.envCentre = envCentre; self.env = env; self.skin = skin; self.poles = poles; self.bones = bones
        self.discs = discs; self.muscles = muscles; self.muscleLabel = muscleLabel; self.muscleFF = muscleFF
        self.muscleThreshold = muscleThreshold; self.muscleNoise = muscleNoise; self.muscleGain = muscleGain
        self.warp = warp; self.kneeCentre = kneeCentre; self.reach = reach
        muscleBounds = muscles.map { m in
            let c = poles[m.pole] + Vec2(cos(m.theta), sin(m.theta)) * m.rc
            // arc length covered by the blob, measured as a chord bound, plus radial extent
            let ext = blobReach * max(m.a, m.b) + 2 * warpAmplitude + 2
            return (c.x, c.y, ext * ext)
        }
        warpStep = 4
        warpN = Int((2 * (reach + 2 * warpStep)) / warpStep) + 2
        warpOrigin = Vec2(envCentre.x - reach - 2 * warpStep, envCentre.y - reach - 2 * warpStep)
        var grid = [Float](repeating: 0, count: 3 * warpN * warpN)
        for j in 0..<warpN {
            for i in 0..<warpN {
                let p = Vec2(warpOrigin.x + Double(i) * warpStep, warpOrigin.y + Double(j) * warpStep)
                let q = warped(p, z: z, warp: warp)
                grid[3 * (i + warpN * j)] = Float(q.x - p.x)
                grid[3 * (i + warpN * j) + 1] = Float(q.y - p.y)
                // smooth field whose zero isolines draw the intramuscular aponeuroses
                grid[3 * (i + warpN * j) + 2] = warp.sample(Float(p.x / 22) + 11.3, Float(p.y / 22) - 4.1, Float(z / 60) + 7.7)
            }
        }
        warpGrid = grid
    }

    /// The warped position of p and the aponeurosis field there (bilinear in the precomputed grid).
    @inline(__always) func warpedPoint(_ p: Vec2) -> (Vec2, Float) {
        let fx = (p.x - warpOrigin.x) / warpStep, fy = (p.y - warpOrigin.y) / warpStep
        let ix = max(0, min(warpN - 2, Int(fx))), iy = max(0, min(warpN - 2, Int(fy)))
        let tx = Float(max(0, min(1, fx - Double(ix)))), ty = Float(max(0, min(1, fy - Double(iy))))
        let i00 = 3 * (ix + warpN * iy), i10 = i00 + 3, i01 = i00 + 3 * warpN, i11 = i01 + 3
        return warpGrid.withUnsafeBufferPointer { g in
            @inline(__always) func bl(_ o: Int) -> Float {
                (g[i00 + o] * (1 - tx) + g[i10 + o] * tx) * (1 - ty) + (g[i01 + o] * (1 - tx) + g[i11 + o] * tx) * ty
            }
            return (Vec2(p.x + Double(bl(0)), p.y + Double(bl(1))), bl(2))
        }
    }
}

struct Renderer: Sendable {
    let legs: [LegModel]
    let core: @Sendable (Double) -> PelvisCore?
    let grid: Grid
    let signal: SignalModel
    let subject: SubjectParameters
    let diseaseSeed: UInt64
    let fineStep: Double, fineSliceStep: Double
    /// Which of out-phase, in-phase, water, fat to compute.
    var wanted = (true, true, true, true)
    /// Water weight of the in-phase image, `a·water + fat`: 1 for in-phase, below 1 for the T1-weighted-like image.
    var inPhaseWaterWeight = 1.0

    init(legs: [LegModel], core: @escaping @Sendable (Double) -> PelvisCore?, grid: Grid, signal: SignalModel,
         subject: SubjectParameters, diseaseSeed: UInt64, fineStep: Double, fineSliceStep: Double) {
        self.legs = legs; self.core = core; self.grid = grid; self.signal = signal; self.subject = subject
        self.diseaseSeed = diseaseSeed; self.fineStep = fineStep; self.fineSliceStep = fineSliceStep
    }

    func sliceLeg(_ m: LegModel, z: Double) -> SliceLeg {
        let g = m.g
        let lv = m.level(at: z)
        let poles = [g.femurAxis(z), g.iomPole(z)]
        let bones = g.bones(at: z)
        let discs = LegModel.discs(g: g, z: z, poles: poles, bones: bones, centre: lv.envCentre, env: lv.env, sat: lv.sat)
        var muscles: [MuscleState] = [], labels: [UInt8] = [], ff: [Double] = [], thr: [Float] = [], noise: [ValueNoise] = []
        var gains: [Double] = []
        for (i, ms) in lv.muscles.enumerated() where ms.present {
            let label = Anatomy.muscles[i].label + g.side.labelOffset
            muscles.append(ms)
            labels.append(UInt8(label))
            let mu = g.params.muscleFatFraction[String(label)] ?? 0.03
            ff.append(mu)
            // Fraction of the muscle replaced by fat streaks, and the noise threshold that yields it.
            let p = max(1e-4, min(0.999, (mu - 0.03) / 0.89))
            thr.append(Float(0.26 * inverseNormalCDF(1 - p)))
            noise.append(ValueNoise(seed: PhantomRandom.mix(diseaseSeed ^ UInt64(label) &* 0x51ED_2701)))
            gains.append(signal.muscleWaterGain[String(label)] ?? 1)
        }
        let skin = zip(lv.env, lv.sat).map { $0 + $1 }
        let knee: Vec2? = z < g.zKnee + 0.001 * g.lf && z > g.zKnee - 0.004 * g.lt ? g.tibiaAxis(z) : nil
        return SliceLeg(envCentre: lv.envCentre, env: lv.env, skin: skin, poles: poles, bones: bones, discs: discs,
                        muscles: muscles, muscleLabel: labels, muscleFF: ff, muscleThreshold: thr, muscleNoise: noise,
                        muscleGain: gains, warp: m.warp,
                        kneeCentre: knee, reach: skin.max()! + 2, z: z)
    }

    /// Label, tissue and (for muscle) fat fraction and water-gain factor at one point.
    @inline(__always)
    func classify(_ p: Vec2, z: Double, legs sl: [SliceLeg], core: PelvisCore?, blend: Double)
        -> (label: UInt8, tissue: Tissue, ff: Double, gain: Double) {
        var dBest = Double.infinity, owner = -1
        var dUnion = Double.infinity
        var rs = (0.0, 0.0), phis = (0.0, 0.0)
        for li in sl.indices {
            let leg = sl[li]
            let dx = p.x - leg.envCentre.x, dy = p.y - leg.envCentre.y
            if abs(dx) > leg.reach + blend || abs(dy) > leg.reach + blend { continue }
            let r = (dx * dx + dy * dy).squareRoot()
            let phi = fastAtan2(dy, dx)
            let d = r - LegModel.lookup(leg.skin, phi)
            if li == 0 { rs.0 = r; phis.0 = phi } else { rs.1 = r; phis.1 = phi }
            dUnion = dUnion == .infinity ? d : smoothMin(dUnion, d, blend)
            if d < dBest { dBest = d; owner = li }
        }
        var dCore = Double.infinity
        if let core {
            dCore = core.signedDistance(p)
            dUnion = dUnion == .infinity ? dCore : smoothMin(dUnion, dCore, blend)
        }
        if dUnion >= 0 { return (0, .air, 0, 1) }
        let skinThickness = 1.3
        if let core, dCore < dBest {
            if let s = core.sacrum, s.normalised(p) < 1 {
                return (UInt8(s.label), s.normalised(p, shrink: s.cortex) < 1 ? .redMarrow : .cortex, 0, 1)
            }
            if dUnion > -skinThickness { return (UInt8(L.subcutaneousFat), .skin, 0, 1) }
            if dUnion > -core.fat { return (UInt8(L.subcutaneousFat), .subcutaneousFat, 0, 1) }
            if let b = core.bladder, b.normalised(p) < 1 { return (0, b.normalised(p) > 0.85 ? .tendon : .fluid, 0, 1) }
            if let r = core.rectum, r.normalised(p) < 1 { return (0, r.normalised(p) > 0.6 ? .tendon : .viscera, 0, 1) }
            return (0, .viscera, 0, 1)
        }
        guard owner >= 0 else { return (UInt8(L.subcutaneousFat), .subcutaneousFat, 0, 1) }
        let leg = sl[owner]
        let r = owner == 0 ? rs.0 : rs.1, phi = owner == 0 ? phis.0 : phis.1
        let discHit: (Tissue, Bool)? = leg.discs.withUnsafeBufferPointer { ds in
            for d in ds {
                let ex = p.x - d.c.x, ey = p.y - d.c.y
                let rr = d.r + d.cuff
                if ex * ex + ey * ey >= rr * rr { continue }
                return (ex * ex + ey * ey < d.r * d.r) ? (d.tissue, true) : (.intermuscularFat, false)
            }
            return nil
        }
        if let h = discHit { return (0, h.0, 0, 1) }
        if r >= LegModel.lookup(leg.env, phi) {
            if dUnion > -skinThickness { return (UInt8(L.subcutaneousFat), .skin, 0, 1) }
            return (UInt8(L.subcutaneousFat), .subcutaneousFat, 0, 1)
        }
        for n in leg.bones.indices where leg.bones[n].normalised(p) < 1 {
            let b = leg.bones[n]
            var marrow = false
            for m in leg.bones.indices where leg.bones[m].label == b.label && leg.bones[m].normalised(p, shrink: leg.bones[m].cortex) < 1 {
                marrow = true; break
            }
            return (UInt8(b.label), marrow ? (b.redMarrow ? .redMarrow : .yellowMarrow) : .cortex, 0, 1)
        }
        if let k = leg.kneeCentre {
            let d = p - k
            if (d.x * d.x) / (38 * 38) + (d.y * d.y) / (26 * 26) < 1 { return (0, .cartilage, 0, 1) }
        }
        if leg.muscles.isEmpty { return (0, .intermuscularFat, 0, 1) }
        // Smoothly warped position: septa wander instead of following perfect conics.
        let (q, aponeurosis) = leg.warpedPoint(p)
        let d0 = q - leg.poles[0], d1 = q - leg.poles[1]
        let r0 = d0.length, t0 = fastAtan2(d0.y, d0.x), r1 = d1.length, t1 = fastAtan2(d1.y, d1.x)
        var best = -Double.infinity, second = -Double.infinity, bi = 0, si = 0
        leg.muscles.withUnsafeBufferPointer { ms in
            for k in 0..<ms.count {
                let bnd = leg.muscleBounds[k]
                let ex = q.x - bnd.0, ey = q.y - bnd.1
                if ex * ex + ey * ey > bnd.2 { continue }
                let m = ms[k]
                let sc = m.pole == 0 ? blobScore(m, r: r0, theta: t0) : blobScore(m, r: r1, theta: t1)
                if sc > best { second = best; si = bi; best = sc; bi = k } else if sc > second { second = sc; si = k }
            }
        }
        if best == -Double.infinity { return (0, .intermuscularFat, 0, 1) }
        let label = leg.muscleLabel[bi]
        // Septum: distance to the border with the runner-up, from the score gap and the score gradients.
        if second > -Double.infinity {
            func grad(_ m: MuscleState) -> Double {
                // |grad (2 q)| with q the normalised distance
                let rr = m.pole == 0 ? r0 : r1, tt = m.pole == 0 ? t0 : t1
                var dt = tt - m.theta
                if dt > Double.pi { dt -= 2 * Double.pi } else if dt < -Double.pi { dt += 2 * Double.pi }
                let u = dt * m.rc / m.a, v = (rr - m.rc) / m.b
                let q = max((u * u + v * v).squareRoot(), 1e-6)
                let gu = u / m.a, gv = v / m.b
                return 2 * (gu * gu + gv * gv).squareRoot() / q
            }
            let gap = (best - second) / (grad(leg.muscles[bi]) + grad(leg.muscles[si]) + 1e-6)
            if gap < septumHalfWidth { return (label, .intermuscularFat, 0, 1) }
        }
        // Intramuscular aponeuroses and septa: thin curved dark lines inside larger muscles (isolines of a smooth
        // per-muscle noise field), as real out-phase images show.
        if abs(aponeurosis) < 0.01 && leg.muscles[bi].target > 1200 { return (label, .intermuscularFat, 0, 1) }
        // Fatty infiltration: streaks elongated along the leg (fibre direction), thresholded so that the muscle's
        // mean fat fraction matches its target.
        let mu = leg.muscleFF[bi]
        var ff = mu
        if mu > 0.07 {
            let n = leg.muscleNoise[bi].fbm(Float(p.x / 3.2), Float(p.y / 3.2), Float(z / 22))
            let thr = leg.muscleThreshold[bi]
            ff = 0.03 + 0.89 * Double(smoothstep(thr - 0.05, thr + 0.05, n))
        }
        return (label, .muscle, ff, leg.muscleGain[bi])
    }

    func render(noiseSeed: UInt64) -> RenderOutput {
        let g = grid
        let count = g.ni * g.nj * g.nk
        var labels = [UInt8](repeating: 0, count: count)
        var op = [Float](repeating: 0, count: count), ip = op, wa = op, fa = op
        let ns = max(1, Int((g.dx / fineStep).rounded()) | 1)
        let nsY = max(1, Int((g.dy / fineStep).rounded()) | 1)
        let nzs = max(1, Int((g.dz / fineSliceStep).rounded()) | 1)
        let tissues = signal.table()
        let satFatGain = tissues[Int(Tissue.subcutaneousFat.rawValue)].fatGain
        let sigma = signal.noiseSigma
        labels.withUnsafeMutableBufferPointer { lb in
            op.withUnsafeMutableBufferPointer { opb in
                ip.withUnsafeMutableBufferPointer { ipb in
                    wa.withUnsafeMutableBufferPointer { wab in
                        fa.withUnsafeMutableBufferPointer { fab in
                            nonisolated(unsafe) let L = lb.baseAddress!, O = opb.baseAddress!, I = ipb.baseAddress!
                            nonisolated(unsafe) let W = wab.baseAddress!, F = fab.baseAddress!
                            DispatchQueue.concurrentPerform(iterations: g.nk) { k in
                                renderSlice(k, ns: ns, nsY: nsY, nzs: nzs, tissues: tissues, satFatGain: satFatGain,
                                            sigma: sigma, noiseSeed: noiseSeed, L: L, O: O, I: I, W: W, F: F)
                            }
                        }
                    }
                }
            }
        }
        return RenderOutput(labels: labels, outPhase: op, inPhase: ip, water: wa, fat: fa)
    }

    func renderSlice(_ k: Int, ns: Int, nsY: Int, nzs: Int, tissues: [TissueSignal], satFatGain: Double, sigma: Double,
                     noiseSeed: UInt64, L: UnsafeMutablePointer<UInt8>, O: UnsafeMutablePointer<Float>,
                     I: UnsafeMutablePointer<Float>, W: UnsafeMutablePointer<Float>, F: UnsafeMutablePointer<Float>) {
        let g = grid
        let plane = g.ni * g.nj
        var sumW = [Double](repeating: 0, count: plane), sumF = [Double](repeating: 0, count: plane)
        let zc = g.z0 + Double(k) * g.dz
        let hs = subject.heightM / 1.8
        for sz in 0..<nzs {
            let z = zc + (Double(sz) - Double(nzs - 1) / 2) * g.dz / Double(nzs)
            let sl = legs.map { sliceLeg($0, z: z) }
            let coreHere = core(z)
            let sf = legs[0].g.sF(z)
            let blend = sf < 0.1 ? 35 * hs : max(2, 35 * hs * (1 - (sf - 0.1) / 0.12))
            // Bounding box of the body at this z.
            var xLo = Double.infinity, xHi = -Double.infinity, yLo = Double.infinity, yHi = -Double.infinity
            for leg in sl {
                xLo = min(xLo, leg.envCentre.x - leg.reach - blend); xHi = max(xHi, leg.envCentre.x + leg.reach + blend)
                yLo = min(yLo, leg.envCentre.y - leg.reach - blend); yHi = max(yHi, leg.envCentre.y + leg.reach + blend)
            }
            if let c = coreHere {
                xLo = min(xLo, c.centre.x - c.halfWidth - blend); xHi = max(xHi, c.centre.x + c.halfWidth + blend)
                yLo = min(yLo, c.centre.y - c.halfDepth - blend); yHi = max(yHi, c.centre.y + c.halfDepth + blend)
            }
            let i0 = max(0, Int(((xLo - g.x0) / g.dx).rounded(.down)) - 1), i1 = min(g.ni - 1, Int(((xHi - g.x0) / g.dx).rounded(.up)) + 1)
            let j0 = max(0, Int(((yLo - g.y0) / g.dy).rounded(.down)) - 1), j1 = min(g.nj - 1, Int(((yHi - g.y0) / g.dy).rounded(.up)) + 1)
            guard i0 <= i1 && j0 <= j1 else { continue }
            let centreSlice = sz == nzs / 2
            @inline(__always) func amplitudes(_ c: (label: UInt8, tissue: Tissue, ff: Double, gain: Double)) -> (Double, Double) {
                if c.tissue == .air { return (0, 0) }
                let t = tissues[Int(c.tissue.rawValue)]
                if c.tissue == .muscle {
                    return (t.pd * (1 - c.ff) * t.waterGain * c.gain, t.pd * c.ff * satFatGain)
                }
                return (t.pd * (1 - t.fatFraction) * t.waterGain, t.pd * t.fatFraction * t.fatGain)
            }
            // Pass 1: voxel centres (with a one-voxel rim so every voxel of the box has its neighbours).
            let bi0 = max(0, i0 - 1), bi1 = min(g.ni - 1, i1 + 1), bj0 = max(0, j0 - 1), bj1 = min(g.nj - 1, j1 + 1)
            let bw = bi1 - bi0 + 1, bh = bj1 - bj0 + 1
            var cLabel = [UInt8](repeating: 0, count: bw * bh), cTissue = [UInt8](repeating: 0, count: bw * bh)
            var cW = [Double](repeating: 0, count: bw * bh), cF = [Double](repeating: 0, count: bw * bh)
            for j in bj0...bj1 {
                for i in bi0...bi1 {
                    let c = classify(Vec2(g.x0 + Double(i) * g.dx, g.y0 + Double(j) * g.dy), z: z, legs: sl, core: coreHere, blend: blend)
                    let n = (i - bi0) + bw * (j - bj0)
                    cLabel[n] = c.label; cTissue[n] = c.tissue.rawValue
                    (cW[n], cF[n]) = amplitudes(c)
                }
            }
            // Pass 2: a voxel whose centre and 8 neighbours agree in label and tissue is uniform; only the others
            // are integrated on the fine grid (boundaries, septa, thin structures).
            let nsub = Double(ns * nsY)
            for j in j0...j1 {
                let yc = g.y0 + Double(j) * g.dy
                for i in i0...i1 {
                    let n = (i - bi0) + bw * (j - bj0)
                    if centreSlice { L[i + g.ni * (j + g.nj * k)] = cLabel[n] }
                    var uniform = true
                    for dj in -1...1 where uniform {
                        let jj = j + dj
                        if jj < bj0 || jj > bj1 { continue }
                        for di in -1...1 {
                            let ii = i + di
                            if ii < bi0 || ii > bi1 { continue }
                            let m = (ii - bi0) + bw * (jj - bj0)
                            if cLabel[m] != cLabel[n] || cTissue[m] != cTissue[n] { uniform = false; break }
                        }
                    }
                    if uniform {
                        sumW[i + g.ni * j] += cW[n] * nsub
                        sumF[i + g.ni * j] += cF[n] * nsub
                        continue
                    }
                    let xc = g.x0 + Double(i) * g.dx
                    var w = 0.0, f = 0.0
                    for b in 0..<nsY {
                        let y = yc + (Double(b) - Double(nsY - 1) / 2) * g.dy / Double(nsY)
                        for a in 0..<ns {
                            let x = xc + (Double(a) - Double(ns - 1) / 2) * g.dx / Double(ns)
                            if a == ns / 2 && b == nsY / 2 { w += cW[n]; f += cF[n]; continue }
                            let (ww, ff) = amplitudes(classify(Vec2(x, y), z: z, legs: sl, core: coreHere, blend: blend))
                            w += ww; f += ff
                        }
                    }
                    sumW[i + g.ni * j] += w
                    sumF[i + g.ni * j] += f
                }
            }
        }
        // Average, receive field, magnitude, Rician noise (independent complex Gaussian noise per image).
        // One noise stream per image and slice: an image's noise does not depend on which others are made.
        var rngs = (0..<4).map { PhantomRandom.stream(noiseSeed &+ UInt64($0) &* 0x1000_0001, UInt64(k)) }
        let coil = legs.map { m -> (Vec2, Double) in
            let lv = m.level(at: zc)
            return (lv.envCentre, max(20, lv.env.reduce(0, +) / Double(lv.env.count)))
        }
        let n = Double(ns * nsY * nzs)
        for j in 0..<g.nj {
            for i in 0..<g.ni {
                let idx = i + g.ni * j
                let px = g.x0 + Double(i) * g.dx, py = g.y0 + Double(j) * g.dy
                var rel = Double.infinity
                for (c, r) in coil {
                    let dx = px - c.x, dy = py - c.y
                    rel = min(rel, (dx * dx + dy * dy) / (r * r))
                }
                let bias = signal.bias(px, py, zc) * (1 + signal.surfaceCoilStrength * min(rel, 1.5))
                let wv = sumW[idx] / n * bias, fv = sumF[idx] / n * bias
                func rician(_ s: Double, _ c: Int) -> Float {
                    let (na, nb) = rngs[c].normalPair()
                    let a = s + sigma * na, b = sigma * nb
                    return Float((a * a + b * b).squareRoot())
                }
                let o = idx + plane * k
                if wanted.0 { O[o] = rician(wv - fv, 0) }
                if wanted.1 { I[o] = rician(wv * inPhaseWaterWeight + fv, 1) }
                if wanted.2 { W[o] = rician(wv, 2) }
                if wanted.3 { F[o] = rician(fv, 3) }
            }
        }
    }
}

/// Half-width (mm) of the thin fat septa drawn between neighbouring muscles.
let septumHalfWidth = 0.35
