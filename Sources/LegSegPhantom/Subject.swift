import Foundation

/// Which legs a phantom contains.
public enum LegSelection: String, Sendable, Codable, CaseIterable {
    case both, left, right
    var sides: [Side] {
        switch self {
        case .both: return [.right, .left]
        case .left: return [.left]
        case .right: return [.right]
        }
    }
}

/// The subject's side. `sign` is +1 toward the subject's left (LPS +x).
public enum Side: String, Sendable, Codable {
    case left, right
    var sign: Double { self == .left ? 1 : -1 }
    /// Offset added to a standardized left label.
    var labelOffset: Int { self == .left ? 0 : 1 }
}

/// Body regions of the per-slice classification (QMRITools' Lower / Knee / Upper / Hip plus ankle).
public enum BodyRegion: String, Sendable, Codable, CaseIterable {
    case hip, thigh, knee, lowerLeg = "lower-leg", ankle
}

/// Disease pattern of fatty infiltration, from leg-anatomy.md section 10.
public enum DiseasePattern: String, Sendable, Codable, CaseIterable {
    case none, ageing, duchenne, fshd, lgmd, dysferlin, myotonic, ibm, random

    /// Relative involvement of each muscle (0 spared ... 1 most affected), by standardized left label.
    func involvement(_ label: Int, rng: inout PhantomRandom) -> Double {
        let q = [L.vastusLateralis, L.vastusIntermedius, L.vastusMedialis, L.rectusFemoris]
        let hams = [L.semimembranosus, L.semitendinosus, L.bicepsFemorisLong, L.bicepsFemorisShort]
        let jitter = rng.uniform(0.75, 1.25)
        let v: Double
        switch self {
        case .none: return 0
        case .random: v = rng.uniform(0, 1)
        case .ageing: v = q.contains(label) ? 0.6 : 0.35
        case .duchenne:
            if [L.gluteusMaximus, L.adductorMagnus, L.bicepsFemorisLong].contains(label) || q.contains(label) { v = 1 }
            else if [L.semimembranosus, L.semitendinosus, L.gluteusMedius].contains(label) { v = 0.6 }
            else if [L.sartorius, L.gracilis, L.adductorLongus, L.tibialisPosterior, L.tibialisAnterior].contains(label) { v = 0.15 }
            else { v = 0.45 }
        case .fshd:
            if hams.contains(label) || [L.adductorMagnus, L.rectusFemoris, L.tibialisAnterior,
                                        L.medialGastrocnemius, L.soleus].contains(label) { v = rng.bernoulli(0.7) ? 1 : 0.2 }
            else if [L.lateralGastrocnemius, L.tibialisPosterior, L.psoasMajor, L.fibularisLongus, L.fibularisBrevis].contains(label) { v = 0.05 }
            else { v = 0.25 }
        case .lgmd:
            if [L.adductorMagnus, L.adductorLongus, L.adductorBrevis, L.semimembranosus, L.soleus,
                L.medialGastrocnemius].contains(label) { v = 1 }
            else if [L.bicepsFemorisLong, L.bicepsFemorisShort, L.semitendinosus, L.vastusIntermedius].contains(label) { v = 0.6 }
            else if [L.vastusLateralis, L.sartorius, L.gracilis, L.lateralGastrocnemius].contains(label) { v = 0.1 }
            else { v = 0.3 }
        case .dysferlin:
            if hams.contains(label) || [L.gluteusMinimus, L.medialGastrocnemius, L.lateralGastrocnemius, L.soleus,
                                        L.adductorMagnus].contains(label) { v = 1 }
            else if label == L.gracilis { v = 0.05 } else { v = 0.3 }
        case .myotonic:
            if [L.vastusMedialis, L.vastusIntermedius, L.vastusLateralis, L.medialGastrocnemius, L.gluteusMinimus].contains(label) { v = 1 }
            else { v = 0.25 }
        case .ibm:
            if [L.vastusIntermedius, L.vastusMedialis, L.vastusLateralis, L.medialGastrocnemius,
                L.lateralGastrocnemius, L.flexorDigitorumLongus].contains(label) { v = 1 }
            else if [L.rectusFemoris, L.tibialisPosterior, L.soleus].contains(label) { v = 0.1 }
            else { v = 0.3 }
        }
        return min(1, v * jitter)
    }
}

/// Per-leg parameters of a subject.
public struct LegParameters: Sendable, Codable {
    public var side: Side
    /// External rotation of the whole leg about the long axis, degrees.
    public var rotationDegrees: Double
    /// Shift of the leg in the transverse plane (mm, LPS x and y).
    public var shiftMM: [Double]
    /// Per-muscle volume factor (bulk x left/right asymmetry x atrophy), by standardized label of this side.
    public var muscleScale: [String: Double]
    /// Per-muscle mean fat fraction target (0 ... 1), by standardized label of this side.
    public var muscleFatFraction: [String: Double]
    /// Subcutaneous fat thickness factor of this leg.
    public var fatScale: Double
}

/// Body size and composition of one synthetic subject. Everything the geometry needs is here and in the JSON.
public struct SubjectParameters: Sendable, Codable {
    public var sex: String
    public var heightM: Double
    public var massKg: Double
    /// Total lower-limb muscle volume of one side, [H14]: 47 * height * mass + 1285 cm3, times `muscleBulk`.
    public var totalMuscleVolumeCM3: Double
    public var muscleBulk: Double
    /// Hip-joint centre to knee joint line, mm.
    public var thighLengthMM: Double
    /// Knee joint line to ankle joint, mm.
    public var lowerLegLengthMM: Double
    /// Distance of each femoral-head centre from the midline, mm.
    public var hipHalfWidthMM: Double
    /// Distance of each knee / ankle centre from the midline, mm (larger = legs apart).
    public var kneeHalfWidthMM: Double
    public var ankleHalfWidthMM: Double
    /// Base subcutaneous fat thickness at the thigh, mm.
    public var fatThicknessMM: Double
    public var diseasePattern: DiseasePattern
    /// Overall disease severity 0 (healthy) ... 1 (end stage).
    public var diseaseSeverity: Double
    public var legs: [LegParameters]

    /// Draws a subject. `severity` nil = healthy; `pattern` nil = random among the patterns.
    static func sample(rng: inout PhantomRandom, legs: LegSelection, severity: Double?, pattern: DiseasePattern?) -> SubjectParameters {
        let male = rng.bernoulli(0.5)
        let height = male ? rng.normal(1.79, 0.07, clip: 1.6, 1.98) : rng.normal(1.66, 0.065, clip: 1.5, 1.85)
        let bmi = rng.normal(male ? 24.5 : 23.5, 3.2, clip: 18, 34)
        let mass = bmi * height * height
        var sev = severity ?? 0
        let pat: DiseasePattern
        if sev <= 0 {
            pat = .none; sev = 0
        } else {
            let options: [DiseasePattern] = [.ageing, .duchenne, .fshd, .lgmd, .dysferlin, .myotonic, .ibm, .random]
            pat = pattern ?? options[rng.int(below: options.count)]
        }
        let bulk = rng.normal(1.0, 0.1, clip: 0.75, 1.3) * (1 - 0.35 * sev)
        let vTot = (47 * height * mass + 1285) * bulk
        // Femur physiological length 420 / 388 mm [GR19] for ~1.80 / 1.66 m; tibia 0.80-0.85 x femur [E].
        let femur = height * (male ? 233 : 234) * rng.normal(1, 0.03, clip: 0.92, 1.08)
        let tibia = femur * rng.normal(0.86, 0.03, clip: 0.8, 0.92)
        let hipHalf = height * 49 * rng.normal(male ? 1.0 : 1.04, 0.04, clip: 0.9, 1.15)
        let apart = rng.bernoulli(0.35) ? rng.uniform(10, 90) : rng.uniform(0, 12)
        let kneeHalf = 52 + 0.04 * (mass - 70) + apart
        let ankleHalf = 42 + apart * 1.1 + rng.uniform(0, 10)
        // SAT: men 5-8 mm, women 10-18 mm at the thigh for normal BMI, rising with BMI [SAT-a..e] [E].
        let fat = max(2.5, (male ? 6.5 : 13) * pow(bmi / 23, 2.2) * rng.normal(1, 0.2, clip: 0.5, 1.7))

        var legParams: [LegParameters] = []
        // Per-muscle left/right asymmetry: sigma 3-4 % for large, 8-15 % for small muscles [ASY18, E].
        var shared: [Int: Double] = [:], involvement: [Int: Double] = [:]
        for m in Anatomy.muscles {
            shared[m.label] = rng.normal(1, 0.08, clip: 0.75, 1.25)
            involvement[m.label] = pat.involvement(m.label, rng: &rng)
        }
        let asymmetricDisease = pat == .fshd || pat == .ibm
        for side in legs.sides {
            var scale: [String: Double] = [:], ff: [String: Double] = [:]
            let sideSeverity = sev * (asymmetricDisease ? rng.uniform(0.6, 1.3) : rng.uniform(0.9, 1.1))
            for m in Anatomy.muscles {
                let v = m.volume(vTot: 8000)
                let sd = v > 200 ? 0.035 : 0.1
                let inv = min(1, involvement[m.label]! * sideSeverity * (asymmetricDisease ? rng.uniform(0.5, 1.5) : 1))
                // Fat replaces muscle and the muscle shrinks (atrophy) as involvement rises.
                let atrophy = 1 - 0.45 * inv
                let label = String(m.label + side.labelOffset)
                scale[label] = shared[m.label]! * rng.normal(1, sd, clip: 0.7, 1.3) * atrophy
                let healthy = 0.025 + ([L.semimembranosus, L.semitendinosus, L.bicepsFemorisLong,
                                        L.bicepsFemorisShort].contains(m.label) ? 0.018 : 0) + rng.uniform(-0.01, 0.015)
                ff[label] = min(0.9, healthy + 0.85 * inv)
            }
            legParams.append(LegParameters(side: side, rotationDegrees: rng.normal(8, 7, clip: -10, 25),
                                           shiftMM: [rng.normal(0, 4), rng.normal(0, 5)],
                                           muscleScale: scale, muscleFatFraction: ff,
                                           fatScale: rng.normal(1, 0.06, clip: 0.85, 1.15)))
        }
        return SubjectParameters(sex: male ? "male" : "female", heightM: height, massKg: mass,
                                 totalMuscleVolumeCM3: vTot, muscleBulk: bulk, thighLengthMM: femur,
                                 lowerLegLengthMM: tibia, hipHalfWidthMM: hipHalf, kneeHalfWidthMM: kneeHalf,
                                 ankleHalfWidthMM: ankleHalf, fatThicknessMM: fat, diseasePattern: pat,
                                 diseaseSeverity: sev, legs: legParams)
    }
}
