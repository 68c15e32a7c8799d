import Foundation

// Geometry of one leg: the long axes of femur and tibia in subject coordinates, and the bones, vessels, tendons,
// deep fascia (the "envelope" that holds the muscles) and subcutaneous fat at any level.
//
// Subject coordinates are millimetres in LPS: +x toward the subject's left, +y posterior, +z superior; z = 0 at
// the ankle joint. In-plane directions are given on the anatomical clock of leg-anatomy.md section 1.2
// (0 deg anterior, 90 lateral, 180 posterior, 270 medial) and mapped to x/y with the side's mirror sign.

struct Vec2: Sendable {
    var x: Double, y: Double
    init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
    static func + (a: Vec2, b: Vec2) -> Vec2 { Vec2(a.x + b.x, a.y + b.y) }
    static func - (a: Vec2, b: Vec2) -> Vec2 { Vec2(a.x - b.x, a.y - b.y) }
    static func * (a: Vec2, s: Double) -> Vec2 { Vec2(a.x * s, a.y * s) }
    var length: Double { (x * x + y * y).squareRoot() }
    static func lerp(_ a: Vec2, _ b: Vec2, _ t: Double) -> Vec2 { Vec2(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t) }
}

/// Tissue classes of the signal model.
enum Tissue: UInt8, Sendable, CaseIterable {
    case air = 0, subcutaneousFat, intermuscularFat, skin, muscle, tendon, cortex, yellowMarrow, redMarrow
    case cartilage, vessel, nerve, viscera, fluid
}

/// An elliptical bone part with cortex of thickness `cortex` around marrow.
struct BoneShape: Sendable {
    var c: Vec2
    var ax: Double, ay: Double
    /// World angle of the `ax` axis, radians.
    let angle: Double
    var cortex: Double
    var label: Int
    var redMarrow: Bool
    let ca: Double, sa: Double

    init(c: Vec2, ax: Double, ay: Double, angle: Double, cortex: Double, label: Int, redMarrow: Bool) {
        self.c = c; self.ax = ax; self.ay = ay; self.angle = angle; self.cortex = cortex; self.label = label
        self.redMarrow = redMarrow; ca = cos(angle); sa = sin(angle)
    }

    @inline(__always) func normalised(_ p: Vec2, shrink: Double = 0) -> Double {
        let dx = p.x - c.x, dy = p.y - c.y
        let u = dx * ca + dy * sa, v = -dx * sa + dy * ca
        let a = max(ax - shrink, 0.01), b = max(ay - shrink, 0.01)
        return (u * u) / (a * a) + (v * v) / (b * b)
    }

    /// Largest t >= 0 where origin + t * dir (unit) is inside the ellipse; nil if the ray misses it.
    func rayExit(from o: Vec2, dir d: Vec2) -> Double? {
        let ox = o.x - c.x, oy = o.y - c.y
        let pu = (ox * ca + oy * sa) / ax, pv = (-ox * sa + oy * ca) / ay
        let du = (d.x * ca + d.y * sa) / ax, dv = (-d.x * sa + d.y * ca) / ay
        let qa = du * du + dv * dv, qb = 2 * (pu * du + pv * dv), qc = pu * pu + pv * pv - 1
        let disc = qb * qb - 4 * qa * qc
        guard disc >= 0 else { return nil }
        let t = (-qb + disc.squareRoot()) / (2 * qa)
        return t > 0 ? t : nil
    }
}

/// A round structure (vessel, nerve, tendon) with an optional fat cuff.
struct Disc: Sendable {
    var c: Vec2
    var r: Double
    var cuff: Double
    var tissue: Tissue
}

/// The leg's skeleton axes and frames.
struct LegGeometry: Sendable {
    let side: Side
    let sign: Double
    let rotation: Double
    let hs: Double
    let zHip: Double, zKnee: Double
    let lf: Double, lt: Double
    let hip: Vec2, knee: Vec2, ankle: Vec2, femurTop: Vec2
    let params: LegParameters

    init(subject: SubjectParameters, leg: LegParameters) {
        side = leg.side
        sign = leg.side.sign
        rotation = leg.rotationDegrees * Double.pi / 180
        hs = subject.heightM / 1.8
        lt = subject.lowerLegLengthMM
        lf = subject.thighLengthMM
        zKnee = lt
        zHip = lt + lf
        params = leg
        let shift = Vec2(leg.shiftMM[0], leg.shiftMM[1])
        hip = Vec2(sign * subject.hipHalfWidthMM, 0) + shift
        knee = Vec2(sign * subject.kneeHalfWidthMM, -5) + shift
        ankle = Vec2(sign * subject.ankleHalfWidthMM, 5) + shift
        femurTop = hip + LegGeometry.offset(sign: sign, rotation: rotation, lat: 45 * hs, ant: -8 * hs)
    }

    @inline(__always) func sF(_ z: Double) -> Double { (zHip - z) / lf }
    @inline(__always) func sT(_ z: Double) -> Double { (zKnee - z) / lt }
    @inline(__always) func z(thigh s: Double) -> Double { zHip - s * lf }
    @inline(__always) func z(leg s: Double) -> Double { zKnee - s * lt }
    func s(_ frame: Frame, _ z: Double) -> Double { frame == .thigh ? sF(z) : sT(z) }
    func z(_ frame: Frame, _ s: Double) -> Double { frame == .thigh ? z(thigh: s) : z(leg: s) }

    /// World offset of a local (lateral, anterior) vector, after the leg's external rotation.
    @inline(__always) func worldOffset(lat: Double, ant: Double) -> Vec2 {
        LegGeometry.offset(sign: sign, rotation: rotation, lat: lat, ant: ant)
    }

    @inline(__always) static func offset(sign: Double, rotation: Double, lat: Double, ant: Double) -> Vec2 {
        let c = cos(rotation), s = sin(rotation)
        let l2 = lat * c + ant * s, a2 = ant * c - lat * s
        return Vec2(sign * l2, -a2)
    }

    /// Unit world direction of a clock angle (degrees).
    @inline(__always) func direction(clock deg: Double) -> Vec2 {
        let t = deg * Double.pi / 180
        return worldOffset(lat: sin(t), ant: cos(t))
    }

    /// Centre of the femoral shaft (continued into the pelvis above the lesser trochanter).
    func femurAxis(_ z: Double) -> Vec2 {
        let s = sF(z)
        if s >= 0.1 { return Vec2.lerp(femurTop, knee, (s - 0.1) / 0.9) }
        return Vec2.lerp(femurTop, hip + worldOffset(lat: 10 * hs, ant: 0), min(1, (0.1 - s) / 0.25))
    }

    func tibiaAxis(_ z: Double) -> Vec2 { Vec2.lerp(knee, ankle, sT(z)) }

    /// Centre of the lower-leg clock: the middle of the interosseous membrane.
    func iomPole(_ z: Double) -> Vec2 { tibiaAxis(z) + worldOffset(lat: 19 * hs, ant: -5 * hs) }

    func pole(_ frame: Frame, _ z: Double) -> Vec2 { frame == .thigh ? femurAxis(z) : iomPole(z) }

    /// Weight of the lower-leg frame for the envelope at level z (0 in the thigh, 1 below the knee).
    func legWeight(_ z: Double) -> Double { min(1, max(0, (zKnee + 25 * hs - z) / (50 * hs))) }

    // MARK: Bones

    /// Bone cross-sections at level z, in drawing priority order.
    func bones(at z: Double) -> [BoneShape] {
        var out: [BoneShape] = []
        let sf = sF(z), st = sT(z)
        let h = hs
        func add(_ c: Vec2, _ ax: Double, _ ay: Double, angle: Double = 0, cortex: Double, _ label: Int, red: Bool = false) {
            guard ax > 0.5 && ay > 0.5 else { return }
            out.append(BoneShape(c: c, ax: ax, ay: ay, angle: angle, cortex: cortex, label: label + side.labelOffset, redMarrow: red))
        }
        let localAngle = { (deg: Double) -> Double in
            // world angle of a local axis rotated by `deg` from lateral toward anterior
            let d = self.worldOffset(lat: cos(deg * .pi / 180), ant: sin(deg * .pi / 180))
            return atan2(d.y, d.x)
        }
        let lateralAngle = localAngle(0)
        // ---- Femur: head, neck, trochanters, shaft, condyles [GR19, KH08, LE99].
        let dzHead = z - zHip
        let rHead = 24 * h
        if abs(dzHead) < rHead { add(hip, (rHead * rHead - dzHead * dzHead).squareRoot(), (rHead * rHead - dzHead * dzHead).squareRoot(), cortex: 1.5, L.femur, red: true) }
        let neckBase = femurAxis(self.z(thigh: 0.1)), zNeck = self.z(thigh: 0.1)
        if z < zHip - 6 * h && z > zNeck {
            let t = (zHip - z) / (zHip - zNeck)
            let c = Vec2.lerp(hip, neckBase, t)
            let horiz = (neckBase - hip).length, vert = zHip - zNeck
            let dirAngle = atan2(neckBase.y - hip.y, neckBase.x - hip.x)
            let rN = 15 * h
            add(c, rN * (horiz * horiz + vert * vert).squareRoot() / vert, rN, angle: dirAngle, cortex: 2, L.femur, red: true)
        }
        let gtCentre = femurTop + worldOffset(lat: 14 * h, ant: -6 * h), zGT = self.z(thigh: 0.03), rGT = 24 * h
        if abs(z - zGT) < rGT { let r = (rGT * rGT - (z - zGT) * (z - zGT)).squareRoot(); add(gtCentre, r, r, cortex: 1.5, L.femur, red: true) }
        let zLT = self.z(thigh: 0.15), rLT = 11 * h
        if abs(z - zLT) < rLT {
            let r = (rLT * rLT - (z - zLT) * (z - zLT)).squareRoot()
            add(femurAxis(z) + worldOffset(lat: -13 * h, ant: -9 * h), r, r, cortex: 1.5, L.femur, red: true)
        }
        if sf > 0.04 && sf < 0.93 {
            let axis = femurAxis(z)
            var ml = 14.0, ap = 14.0, cortex = 5.5, shift = 0.0
            if sf < 0.2 { ml = 17; ap = 16; cortex = lerp(2.5, 4, sf / 0.2) }
            else if sf < 0.35 { let t = (sf - 0.2) / 0.15; ml = lerp(17, 14, t); ap = lerp(16, 14, t); cortex = lerp(4, 5.5, t) }
            else if sf > 0.72 { let t = (sf - 0.72) / 0.21; ml = 14 + 22 * pow(t, 1.6); ap = 14 + 11 * t; cortex = lerp(5.5, 1.5, min(1, t * 1.5)); shift = -2 * t }
            add(axis + worldOffset(lat: 0, ant: shift * h), ml * h, ap * h, angle: lateralAngle, cortex: cortex * h, L.femur, red: sf < 0.15)
            if sf > 0.25 && sf < 0.75 {  // linea aspera: posterior ridge of solid cortex
                add(axis + worldOffset(lat: 0, ant: -(ap - 1) * h), 4.5 * h, 4 * h, angle: lateralAngle, cortex: 10, L.femur)
            }
        }
        if sf >= 0.88 && sf < 0.999 {
            let axis = femurAxis(z)
            let t = min(1, (sf - 0.88) / 0.1)
            add(axis + worldOffset(lat: 19 * h, ant: -6 * h), (17 + 4 * t) * h, (17 + 4 * t) * h, cortex: 1.5, L.femur)
            add(axis + worldOffset(lat: -20 * h, ant: -6 * h), (18 + 4 * t) * h, (18 + 4 * t) * h, cortex: 1.5, L.femur)
            if sf < 0.975 { add(axis + worldOffset(lat: 0, ant: 7 * h), 30 * h, 14 * h, angle: lateralAngle, cortex: 1.5, L.femur) }
        }
        // ---- Patella: 34 x 45 x 22 mm [PAT], anterior to the trochlea.
        if sf > 0.86 && sf < 0.955 {
            let u = (sf - 0.9075) / 0.0475, f = max(0, 1 - u * u).squareRoot()
            add(femurAxis(z) + worldOffset(lat: 0, ant: 37 * h), 22 * h * f, 11 * h * f.squareRoot(), angle: lateralAngle, cortex: 1.5, L.patella)
        }
        // ---- Tibia: plateau 75-83 mm [TIB-P], triangular shaft, widening distally, medial malleolus.
        if st > 0.004 && st < 1.0 {
            let axis = tibiaAxis(z)
            var ml: Double, ap: Double, cortex: Double, ant = 0.0
            if st < 0.08 { ml = 39; ap = 25; cortex = 1.5; ant = -3 }
            else if st < 0.25 { let t = (st - 0.08) / 0.17; ml = lerp(37, 12.5, pow(t, 0.6)); ap = lerp(24, 14, t); cortex = lerp(1.5, 4.5, t); ant = lerp(-3, 0, t) }
            else if st < 0.8 { ml = 12.5; ap = 14; cortex = 5 }
            else { let t = (st - 0.8) / 0.2; ml = lerp(12.5, 23, t * t); ap = lerp(14, 19, t); cortex = lerp(5, 1.5, t) }
            add(axis + worldOffset(lat: 0, ant: ant * h), ml * h, ap * h, angle: lateralAngle, cortex: cortex * h, L.tibia)
            if st > 0.2 && st < 0.85 { add(axis + worldOffset(lat: -1 * h, ant: 9 * h), 5 * h, 7.5 * h, angle: lateralAngle, cortex: 10, L.tibia) }
            if st > 0.06 && st < 0.14 { add(axis + worldOffset(lat: 0, ant: 20 * h), 11 * h, 7 * h, angle: lateralAngle, cortex: 1.5, L.tibia) }
        }
        if st > 0.94 && st < 1.07 { add(tibiaAxis(z) + worldOffset(lat: -19 * h, ant: 1 * h), 8 * h, 9 * h, cortex: 1.5, L.tibia) }
        // ---- Fibula: head posterolateral, shaft 12-15 mm, lateral malleolus reaching lowest.
        if st > 0.02 && st < 1.1 {
            let axis = tibiaAxis(z)
            var c: Vec2, r: Double, cortex = 2.5
            if st < 0.09 { c = worldOffset(lat: 36, ant: -17); r = 13; cortex = 1.5 }
            else if st < 0.5 { let t = (st - 0.09) / 0.41; c = Vec2.lerp(worldOffset(lat: 36, ant: -17), worldOffset(lat: 37, ant: -10), t); r = st < 0.15 ? lerp(9, 7, (st - 0.09) / 0.06) : 7 }
            else if st < 0.88 { let t = (st - 0.5) / 0.38; c = Vec2.lerp(worldOffset(lat: 37, ant: -10), worldOffset(lat: 31, ant: -8), t); r = 7 }
            else { let t = (st - 0.88) / 0.22; c = worldOffset(lat: 31, ant: -8); r = t < 0.55 ? lerp(7, 11, t / 0.55) : lerp(11, 5, (t - 0.55) / 0.45); cortex = 1.5 }
            add(axis + c * h, r * h, r * h, cortex: cortex * h, L.fibula)
        }
        // ---- Talus and calcaneus ("Bones feet").
        if st > 0.995 && st < 1.14 { add(tibiaAxis(z) + worldOffset(lat: 3 * h, ant: 5 * h), 17 * h, 24 * h, angle: lateralAngle, cortex: 1.5, L.bonesFeet) }
        if st > 1.08 { add(tibiaAxis(z) + worldOffset(lat: 5 * h, ant: -28 * h), 17 * h, 27 * h, angle: lateralAngle, cortex: 1.5, L.bonesFeet) }
        // ---- Hip bone (labelled "Ilium", as the tables have no pubis/ischium): acetabulum, body, wing, ischium, pubis.
        if sf > -0.08 && sf < 0.04 { add(hip + worldOffset(lat: -27 * h, ant: 0), 12 * h, 30 * h, angle: lateralAngle, cortex: 3, L.ilium, red: true) }
        if sf > -0.25 && sf <= -0.06 { add(hip + worldOffset(lat: -18 * h, ant: -8 * h), 15 * h, 32 * h, angle: lateralAngle, cortex: 3, L.ilium, red: true) }
        if sf > -0.5 && sf <= -0.2 {
            let t = min(1, (-0.2 - sf) / 0.2)
            add(hip + worldOffset(lat: (-12 + 8 * t) * h, ant: -20 * h), 8 * h, (40 + 25 * t) * h, angle: localAngle(-25), cortex: 3, L.ilium, red: true)
        }
        if sf > -0.04 && sf < 0.11 { add(hip + worldOffset(lat: -14 * h, ant: -38 * h), 13 * h, 17 * h, angle: lateralAngle, cortex: 2.5, L.ilium, red: true) }
        if sf > -0.04 && sf < 0.07 {
            let half = abs(hip.x) / 2
            add(hip + worldOffset(lat: -half - 10 * h, ant: 24 * h), half + 4, 10 * h, angle: lateralAngle, cortex: 2.5, L.ilium, red: true)
        }
        return out
    }
}

/// Smooth minimum (polynomial), for blending the outlines of legs and pelvis.
@inline(__always) func smoothMin(_ a: Double, _ b: Double, _ k: Double) -> Double {
    guard k > 0 else { return min(a, b) }
    let h = max(k - abs(a - b), 0) / k
    return min(a, b) - h * h * k * 0.25
}

/// Fast atan2 (max error about 0.0015 rad), in (-pi, pi].
@inline(__always) func fastAtan2(_ y: Double, _ x: Double) -> Double {
    let ax = abs(x), ay = abs(y)
    let mx = max(ax, ay)
    if mx == 0 { return 0 }
    let a = min(ax, ay) / mx
    let s = a * a
    var r = ((-0.0464964749 * s + 0.15931422) * s - 0.327622764) * s * a + a
    if ay > ax { r = 1.57079637 - r }
    if x < 0 { r = 3.14159274 - r }
    return y < 0 ? -r : r
}
