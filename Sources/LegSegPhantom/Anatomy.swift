import Foundation

// The anatomical model of the phantom: which muscles exist, where along the leg their fleshy bellies begin and
// end, where their cross-section peaks, where they sit around the bones, and how large they are.
//
// Numbers come from ../shared/reference/leg-anatomy.md, which tags every value [S] sourced, [D] derived or
// [E] estimate and lists the sources; the keys used here are:
//   - volumes: Handsfield et al. 2014 [H14] regressions V = a * V_tot + b, V_tot = 47 * height * mass + 1285 cm3;
//     EDL/EHL and fibularis longus/brevis split by Ward et al. 2009 [W09] cadaver mass ratios;
//   - belly extents and peak levels: attachment anatomy, [W09] muscle lengths, the Bergman cross-section atlas
//     [BA] plates 7.1-7.26, peak-CSA levels of [JS] and [IS84];
//   - clock positions: [BA] and the Dartmouth MRI atlas [DART] (anatomical clock: 0 deg anterior, 90 lateral,
//     180 posterior, 270 medial, the same for both legs);
//   - bones: [GR19], [KH08], [PAT], [TIB-P], [LE99]; fat layer [SAT-a..e], [CC21]; vessels [AC-a..c], [POP],
//     [GRAY-pt]; hip muscles (not part of the reference tables) are [E] estimates from standard anatomy.
// See docs/phantom.md for the full list and what is estimated.

/// Which longitudinal frame a structure is described in.
enum Frame: Sendable {
    /// Thigh coordinate s_f: 0 = femoral-head centre, 1 = knee joint line (negative = pelvis).
    case thigh
    /// Lower-leg coordinate s_t: 0 = knee joint line, 1 = ankle joint (negative = above the knee).
    case leg
}

/// One keyframe of a muscle's position in the cross-section.
struct PositionKey: Sendable {
    /// Level in the muscle's frame.
    let s: Double
    /// Anatomical clock angle in degrees (0 anterior, 90 lateral, 180 posterior, 270 medial).
    let angle: Double
    /// Depth across the compartment: 0 = on the bone, 1 = under the deep fascia.
    let depth: Double
}

/// A muscle of the phantom.
struct MuscleSpec: Sendable {
    /// Standardized left label (right = left + 1).
    let label: Int
    let frame: Frame
    /// Fleshy belly from `start` to `end` (frame coordinate); cross-section peaks at `peak`.
    let start: Double, end: Double, peak: Double
    /// [H14] regression coefficients (cm3) and the share of that volume this muscle gets.
    let a: Double, b: Double, share: Double
    /// Tangential / radial extent of its cross-section (>1 = spread around the bone, like VI or soleus).
    let aspect: Double
    /// Position keyframes, interpolated linearly along the frame coordinate.
    let keys: [PositionKey]
    /// Distal (or proximal, for hip muscles) tendon: it continues from the belly end to `tendonEnd` with
    /// `tendonArea` mm2; nil when the belly inserts directly.
    let tendonEnd: Double?
    let tendonArea: Double
    /// Radial reach toward the bone, in half-extents (superficial muscles that never touch bone).
    var innerReach = Double.infinity

    init(_ label: Int, _ frame: Frame, belly: (Double, Double), peak: Double, h14: (Double, Double), share: Double = 1,
         aspect: Double = 1.2, keys: [(Double, Double, Double)], tendon: (Double, Double)? = nil) {
        self.label = label; self.frame = frame
        start = belly.0; end = belly.1; self.peak = peak
        a = h14.0; b = h14.1; self.share = share; self.aspect = aspect
        self.keys = keys.map { PositionKey(s: $0.0, angle: $0.1, depth: $0.2) }
        tendonEnd = tendon?.0; tendonArea = tendon?.1 ?? 0
    }

    /// Volume in cm3 for a subject with total lower-limb muscle volume `vTot` (cm3).
    func volume(vTot: Double) -> Double { max(5, (a * vTot + b) * share) }

    /// Clock angle (degrees) and depth at level `s`.
    func position(at s: Double) -> (angle: Double, depth: Double) {
        if s <= keys[0].s { return (keys[0].angle, keys[0].depth) }
        for n in 1..<keys.count where s <= keys[n].s {
            let k0 = keys[n - 1], k1 = keys[n]
            let t = (s - k0.s) / (k1.s - k0.s)
            var da = k1.angle - k0.angle
            if da > 180 { da -= 360 } else if da < -180 { da += 360 }
            return (k0.angle + da * t, lerp(k0.depth, k1.depth, t))
        }
        return (keys[keys.count - 1].angle, keys[keys.count - 1].depth)
    }

    /// Relative cross-section profile along the belly: a beta-shaped bump that is 0 at both ends and peaks at
    /// `peak`; `profileIntegral` normalises it.
    func profile(at s: Double) -> Double {
        guard s > start && s < end else { return 0 }
        let x = (s - start) / (end - start)
        let xp = min(0.8, max(0.2, (peak - start) / (end - start)))
        let kappa = 1.5  // broad bellies that end fairly abruptly at the myotendinous junction
        let alpha = kappa * xp, beta = kappa * (1 - xp)
        let peakValue = pow(xp, alpha) * pow(1 - xp, beta)
        return pow(x, alpha) * pow(1 - x, beta) / peakValue
    }

    /// Integral of `profile` over the frame coordinate.
    var profileIntegral: Double {
        let n = 400
        var sum = 0.0
        for i in 0..<n { sum += profile(at: start + (end - start) * (Double(i) + 0.5) / Double(n)) }
        return sum * (end - start) / Double(n)
    }
}

/// Standardized left labels used by the phantom.
enum L {
    static let lateralGastrocnemius = 1, medialGastrocnemius = 3, soleus = 5, plantaris = 7, popliteus = 9
    static let flexorDigitorumLongus = 11, flexorHallucisLongus = 13, tibialisPosterior = 15
    static let fibularisLongus = 17, fibularisBrevis = 19, tibialisAnterior = 21, extensorDigitorumLongus = 23
    static let extensorHallucisLongus = 25, fibularisTertius = 27
    static let bicepsFemorisLong = 31, bicepsFemorisShort = 33, semimembranosus = 35, semitendinosus = 37
    static let adductorMagnus = 39, adductorMinimus = 41, adductorLongus = 43, adductorBrevis = 45, gracilis = 47
    static let iliacus = 49, psoasMajor = 51, vastusLateralis = 55, vastusIntermedius = 57, vastusMedialis = 59
    static let rectusFemoris = 61, sartorius = 63, pectineus = 65
    static let gluteusMaximus = 71, gluteusMedius = 73, gluteusMinimus = 75, tensorFasciaLatae = 77, piriformis = 79
    static let obturatorInternus = 81, obturatorExternus = 83, quadratusFemoris = 89
    static let ilium = 101, femur = 103, patella = 105, tibia = 107, fibula = 109, bonesFeet = 111
    static let sacrum = 121, subcutaneousFat = 151
}

enum Anatomy {
    /// All muscles. Keys: (s, clock angle in degrees, depth 0 = on bone ... 1 = under fascia).
    static let muscles: [MuscleSpec] = catalogue.map(superficial)

    private static let catalogue: [MuscleSpec] = [
        // ---- Thigh, anterior compartment (s_f). Relations 1-2 of leg-anatomy.md section 12.
        MuscleSpec(L.rectusFemoris, .thigh, belly: (-0.08, 0.70), peak: 0.33, h14: (0.0371, 4.97), aspect: 1.0,
                   keys: [(-0.1, 20, 0.8), (0.1, 5, 0.9), (0.5, 0, 0.95), (0.9, 0, 0.95)], tendon: (0.9, 60)),
        MuscleSpec(L.vastusLateralis, .thigh, belly: (0.03, 0.9), peak: 0.33, h14: (0.125, -55.7), aspect: 2.0,
                   keys: [(0.0, 100, 0.4), (0.25, 100, 0.5), (0.5, 100, 0.5), (0.75, 90, 0.5), (0.95, 75, 0.5)],
                   tendon: (0.95, 40)),
        // VI / VL split: [H14] gives VI 3.8 %, cadaver and PCSA data much more; a middle value is used (VL+VI kept).
        MuscleSpec(L.vastusIntermedius, .thigh, belly: (0.1, 0.86), peak: 0.44, h14: (0.0273, 76.5), share: 1.25,
                   aspect: 3.2, keys: [(0.1, 45, 0.0), (0.5, 30, 0.0), (0.75, 15, 0.0), (0.86, 0, 0.0)]),
        MuscleSpec(L.vastusMedialis, .thigh, belly: (0.2, 0.95), peak: 0.75, h14: (0.0631, -16.3), aspect: 1.6,
                   keys: [(0.2, 300, 0.3), (0.5, 292, 0.45), (0.75, 300, 0.5), (0.95, 310, 0.5)]),
        MuscleSpec(L.sartorius, .thigh, belly: (-0.08, 0.95), peak: 0.33, h14: (0.0256, -18.2), aspect: 1.7,
                   keys: [(-0.08, 40, 1.0), (0.05, 10, 1.0), (0.25, 315, 1.0), (0.5, 275, 1.0), (0.75, 240, 1.0),
                          (0.95, 225, 1.0), (1.05, 220, 1.0)], tendon: (1.08, 20)),
        // ---- Medial compartment. Relation 4: pectineus -> AL -> AB -> AM front to back; gracilis most medial.
        MuscleSpec(L.pectineus, .thigh, belly: (-0.03, 0.19), peak: 0.07, h14: (0.0107, -9.94), aspect: 1.3,
                   keys: [(-0.03, 285, 0.5), (0.1, 275, 0.45), (0.19, 250, 0.2)]),
        MuscleSpec(L.adductorLongus, .thigh, belly: (0.0, 0.55), peak: 0.27, h14: (0.0259, -21.9), aspect: 1.5,
                   keys: [(0.0, 265, 0.75), (0.25, 255, 0.65), (0.45, 245, 0.4), (0.55, 240, 0.2)]),
        MuscleSpec(L.adductorBrevis, .thigh, belly: (0.02, 0.38), peak: 0.2, h14: (0.0137, 6.2), aspect: 1.4,
                   keys: [(0.02, 255, 0.4), (0.2, 245, 0.35), (0.38, 235, 0.15)]),
        MuscleSpec(L.adductorMagnus, .thigh, belly: (0.04, 0.82), peak: 0.4, h14: (0.0793, -4.7), share: 0.9,
                   aspect: 1.3, keys: [(0.04, 210, 0.45), (0.25, 222, 0.4), (0.5, 232, 0.35), (0.75, 240, 0.35),
                                       (0.82, 245, 0.35), (0.92, 255, 0.4)], tendon: (0.93, 30)),
        // Adductor minimus: the uppermost pubofemoral fibres of AM ([AM-a]); 10 % of the AM volume ([E]).
        MuscleSpec(L.adductorMinimus, .thigh, belly: (0.0, 0.2), peak: 0.09, h14: (0.0793, -4.7), share: 0.1,
                   aspect: 1.5, keys: [(0.0, 215, 0.35), (0.2, 200, 0.2)]),
        MuscleSpec(L.gracilis, .thigh, belly: (0.0, 0.7), peak: 0.35, h14: (0.0138, 6.07), aspect: 1.6,
                   keys: [(0.0, 265, 1.0), (0.3, 265, 1.0), (0.5, 262, 1.0), (0.75, 235, 1.0), (1.05, 225, 1.0)],
                   tendon: (1.08, 15)),
        // ---- Posterior compartment. Relation 5: BFLH and ST share an ischial origin, ST superficial to SM,
        // SM with a long proximal tendon and a distal belly, BFSH from the distal lateral linea aspera, deep to BFLH.
        MuscleSpec(L.bicepsFemorisLong, .thigh, belly: (0.07, 0.86), peak: 0.5, h14: (0.0256, 24.3), aspect: 1.2,
                   keys: [(0.07, 180, 0.85), (0.25, 168, 0.9), (0.5, 160, 0.9), (0.75, 148, 0.9), (0.9, 135, 0.9),
                          (1.05, 120, 0.9)], tendon: (1.06, 40)),
        MuscleSpec(L.bicepsFemorisShort, .thigh, belly: (0.42, 0.96), peak: 0.72, h14: (0.016, -13.8), aspect: 1.2,
                   keys: [(0.42, 160, 0.15), (0.6, 148, 0.2), (0.8, 140, 0.25), (0.96, 130, 0.3)]),
        MuscleSpec(L.semitendinosus, .thigh, belly: (0.07, 0.68), peak: 0.32, h14: (0.0285, -16.8), aspect: 1.1,
                   keys: [(0.07, 190, 0.85), (0.25, 195, 0.95), (0.5, 208, 0.95), (0.68, 215, 0.95), (0.9, 222, 0.95),
                          (1.05, 225, 1.0)], tendon: (1.08, 20)),
        MuscleSpec(L.semimembranosus, .thigh, belly: (0.27, 0.96), peak: 0.55, h14: (0.0319, 18.2), aspect: 1.3,
                   keys: [(0.1, 180, 0.6), (0.27, 192, 0.68), (0.5, 198, 0.72), (0.75, 208, 0.72), (0.96, 222, 0.65),
                          (1.03, 225, 0.6)], tendon: (1.02, 35)),
        // ---- Iliopsoas (belly mostly in the pelvis; only the part inside the field of view is drawn).
        MuscleSpec(L.iliacus, .thigh, belly: (-0.45, 0.15), peak: -0.15, h14: (0.0248, 0.38), aspect: 1.4,
                   keys: [(-0.45, 300, 0.3), (-0.1, 310, 0.45), (0.02, 315, 0.4), (0.15, 240, 0.1)]),
        MuscleSpec(L.psoasMajor, .thigh, belly: (-0.9, 0.12), peak: -0.5, h14: (0.055, -117), aspect: 1.0,
                   keys: [(-0.45, 278, 0.8), (-0.1, 290, 0.6), (0.02, 300, 0.45), (0.12, 245, 0.1)]),
        // ---- Hip muscles ([E]; standardized labels 71-90, outside the thigh and lower-leg tables).
        MuscleSpec(L.gluteusMaximus, .thigh, belly: (-0.42, 0.17), peak: -0.08, h14: (0.11, 0), aspect: 2.0,
                   keys: [(-0.42, 185, 0.9), (-0.15, 165, 0.9), (0.05, 150, 0.95), (0.17, 125, 0.9)]),
        MuscleSpec(L.gluteusMedius, .thigh, belly: (-0.45, 0.0), peak: -0.22, h14: (0.045, 0), aspect: 2.0,
                   keys: [(-0.45, 110, 0.6), (-0.2, 95, 0.55), (0.0, 80, 0.35)]),
        MuscleSpec(L.gluteusMinimus, .thigh, belly: (-0.35, 0.0), peak: -0.15, h14: (0.012, 0), aspect: 1.8,
                   keys: [(-0.35, 100, 0.1), (0.0, 70, 0.1)]),
        MuscleSpec(L.tensorFasciaLatae, .thigh, belly: (-0.22, 0.2), peak: 0.0, h14: (0.009, 0), aspect: 1.2,
                   keys: [(-0.22, 45, 0.95), (0.2, 70, 1.0)]),
        MuscleSpec(L.piriformis, .thigh, belly: (-0.25, -0.03), peak: -0.12, h14: (0.006, 0), aspect: 1.6,
                   keys: [(-0.25, 210, 0.35), (-0.03, 170, 0.2)]),
        MuscleSpec(L.obturatorInternus, .thigh, belly: (-0.12, 0.02), peak: -0.05, h14: (0.006, 0), aspect: 1.8,
                   keys: [(-0.12, 250, 0.25), (0.02, 200, 0.2)]),
        MuscleSpec(L.obturatorExternus, .thigh, belly: (-0.03, 0.07), peak: 0.02, h14: (0.005, 0), aspect: 1.6,
                   keys: [(-0.03, 235, 0.15), (0.07, 215, 0.1)]),
        MuscleSpec(L.quadratusFemoris, .thigh, belly: (0.0, 0.09), peak: 0.04, h14: (0.005, 0), aspect: 1.6,
                   keys: [(0.0, 190, 0.3), (0.09, 180, 0.25)]),

        // ---- Lower leg (s_t; clock centred on the interosseous membrane, tibia at ~9:30, fibula at ~3:30).
        // Relation 7: gastrocnemius heads from the femoral condyles to mid-leg, soleus deep to them down to 0.85.
        MuscleSpec(L.medialGastrocnemius, .leg, belly: (-0.09, 0.5), peak: 0.22, h14: (0.0348, 9.42), aspect: 1.5,
                   keys: [(-0.09, 220, 0.7), (0.05, 218, 0.95), (0.25, 215, 1.0), (0.5, 200, 1.0)]),
        MuscleSpec(L.lateralGastrocnemius, .leg, belly: (-0.09, 0.45), peak: 0.2, h14: (0.0199, 8.21), aspect: 1.4,
                   keys: [(-0.09, 140, 0.7), (0.05, 150, 0.95), (0.25, 155, 1.0), (0.45, 165, 1.0)]),
        MuscleSpec(L.soleus, .leg, belly: (0.03, 0.86), peak: 0.5, h14: (0.0507, 78.2), aspect: 2.4,
                   keys: [(0.03, 160, 0.3), (0.2, 175, 0.45), (0.5, 180, 0.55), (0.75, 180, 0.6), (0.86, 185, 0.65),
                          (1.0, 185, 0.85), (1.08, 185, 0.85)], tendon: (1.1, 70)),
        // Plantaris: 9.6 cm belly [PL25], 10-20 cm3 [E].
        MuscleSpec(L.plantaris, .leg, belly: (-0.1, 0.1), peak: 0.0, h14: (0, 14), aspect: 1.0,
                   keys: [(-0.1, 155, 0.6), (0.1, 165, 0.55)]),
        MuscleSpec(L.popliteus, .leg, belly: (-0.01, 0.2), peak: 0.1, h14: (0.00298, 2.11), aspect: 1.8,
                   keys: [(-0.01, 170, 0.05), (0.1, 205, 0.05), (0.2, 215, 0.05)]),
        // Relation 8: TP central on the IOM, FDL medial on the tibia, FHL lateral on the fibula, lowest.
        MuscleSpec(L.tibialisPosterior, .leg, belly: (0.1, 0.8), peak: 0.4, h14: (0.0104, 30.8), aspect: 1.3,
                   keys: [(0.1, 180, 0.05), (0.5, 182, 0.08), (0.75, 215, 0.1), (0.9, 245, 0.1), (1.02, 255, 0.1)],
                   tendon: (1.05, 25)),
        MuscleSpec(L.flexorDigitorumLongus, .leg, belly: (0.27, 0.86), peak: 0.6, h14: (0.00259, 11.6), aspect: 1.2,
                   keys: [(0.27, 228, 0.1), (0.6, 225, 0.15), (0.86, 225, 0.2), (1.02, 235, 0.25)],
                   tendon: (1.05, 12)),
        MuscleSpec(L.flexorHallucisLongus, .leg, belly: (0.4, 0.95), peak: 0.7, h14: (0.0137, -18.9), aspect: 1.3,
                   keys: [(0.4, 135, 0.1), (0.75, 155, 0.2), (0.95, 175, 0.2), (1.05, 185, 0.2)],
                   tendon: (1.06, 15)),
        // Relation 9: lateral compartment, longus superficial to brevis, longus tendinous first.
        MuscleSpec(L.fibularisLongus, .leg, belly: (0.02, 0.72), peak: 0.3, h14: (0.0194, -7.43), share: 0.7,
                   aspect: 1.3, keys: [(0.02, 100, 0.6), (0.3, 100, 0.8), (0.7, 110, 0.85), (1.05, 125, 0.9)],
                   tendon: (1.05, 20)),
        MuscleSpec(L.fibularisBrevis, .leg, belly: (0.3, 0.9), peak: 0.65, h14: (0.0194, -7.43), share: 0.3,
                   aspect: 1.3, keys: [(0.3, 100, 0.2), (0.65, 105, 0.3), (0.9, 115, 0.35), (1.05, 120, 0.4)],
                   tendon: (1.05, 15)),
        // Anterior compartment: TA against the lateral tibia, EDL lateral to it, EHL deep between them.
        MuscleSpec(L.tibialisAnterior, .leg, belly: (0.02, 0.76), peak: 0.3, h14: (0.0161, 20.3), aspect: 1.2,
                   keys: [(0.02, 345, 0.4), (0.3, 348, 0.5), (0.75, 345, 0.6), (1.0, 330, 0.9)], tendon: (1.05, 30)),
        MuscleSpec(L.extensorDigitorumLongus, .leg, belly: (0.02, 0.86), peak: 0.4, h14: (0.0132, 8.7), share: 0.66,
                   aspect: 1.2, keys: [(0.02, 50, 0.55), (0.4, 40, 0.6), (0.86, 25, 0.7), (1.05, 15, 0.9)],
                   tendon: (1.05, 20)),
        MuscleSpec(L.extensorHallucisLongus, .leg, belly: (0.3, 0.9), peak: 0.6, h14: (0.0132, 8.7), share: 0.34,
                   aspect: 1.1, keys: [(0.3, 20, 0.15), (0.6, 12, 0.3), (0.9, 5, 0.7), (1.05, 0, 0.9)],
                   tendon: (1.05, 15)),
        MuscleSpec(L.fibularisTertius, .leg, belly: (0.65, 0.96), peak: 0.85, h14: (0, 10), aspect: 1.1,
                   keys: [(0.65, 60, 0.5), (0.96, 45, 0.7)]),
    ]

    /// Muscles that lie superficially and never reach the bone (rectus femoris over VI, sartorius, gracilis,
    /// the gastrocnemii over soleus).
    static func superficial(_ m: MuscleSpec) -> MuscleSpec {
        var m = m
        switch m.label {
        case L.rectusFemoris: m.innerReach = 1.0
        case L.sartorius, L.gracilis, L.semitendinosus, L.medialGastrocnemius, L.lateralGastrocnemius: m.innerReach = 1.4
        default: break
        }
        return m
    }

    /// Index of each muscle in `muscles` by its left label.
    static let muscleIndex: [Int: Int] = Dictionary(uniqueKeysWithValues: muscles.enumerated().map { ($0.element.label, $0.offset) })
}
