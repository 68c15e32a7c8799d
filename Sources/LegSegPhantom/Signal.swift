import Foundation

// Two-species (water / fat) signal model, leg-anatomy.md section 11:
//   W = rho (1 - FF) gw,  F = rho FF gf,  out-phase |W - F|, in-phase |W + F|, Dixon water W and fat F,
// where gw and gf fold relaxation weighting (T1, T2*) into one gain per tissue. Voxels average W and F over
// the fine sub-samples before the magnitude is taken, so a voxel that is half muscle, half fat cancels on
// out-phase images: the dark "India-ink" lines between muscles and at the fat layer.

/// Which image(s) a phantom writes.
public enum ImageContrast: String, Sendable, Codable, CaseIterable {
    case outPhase = "out-phase", inPhase = "in-phase", water, fat, all
    /// T1-weighted-like: `a·water + fat` with a water weight `a` drawn in 0.3–0.55 per case, so fat and marrow
    /// are bright and muscle is mid-grey, as in T1-weighted spin-echo images (not part of `all`).
    case t1Like = "t1-like"
}

/// Per-tissue signal parameters.
public struct TissueSignal: Sendable, Codable {
    /// Proton density (relative).
    public var pd: Double
    /// Fat fraction (muscle: replaced per voxel by the infiltration model).
    public var fatFraction: Double
    /// Water and fat gains (relaxation weighting).
    public var waterGain: Double
    public var fatGain: Double
}

/// The signal table of one phantom: tissues, per-muscle water-gain factors, noise and bias.
public struct SignalModel: Sendable, Codable {
    public var tissues: [String: TissueSignal]
    /// Per-muscle multiplier of the water gain, by standardized label (1 without contrast randomisation).
    public var muscleWaterGain: [String: Double]
    public var snr: Double
    public var noiseSigma: Double
    public var biasCoefficients: [Double]
    public var contrastRandomised: Bool
    /// Surface-coil brightening toward the skin of each leg: gain 1 + k (r / R)^2 (r from the leg's centre).
    public var surfaceCoilStrength: Double

    static let defaults: [Tissue: TissueSignal] = [
        // Gains tuned so out-phase muscle / fat and water / fat ratios match the QMRITools volumes (docs/phantom.md).
        .muscle: TissueSignal(pd: 0.8, fatFraction: 0.03, waterGain: 1.15, fatGain: 1.0),
        .subcutaneousFat: TissueSignal(pd: 0.95, fatFraction: 0.9, waterGain: 1.15, fatGain: 1.0),
        .intermuscularFat: TissueSignal(pd: 0.95, fatFraction: 0.88, waterGain: 1.15, fatGain: 1.0),
        .skin: TissueSignal(pd: 0.75, fatFraction: 0.1, waterGain: 1.2, fatGain: 1.0),
        .tendon: TissueSignal(pd: 0.08, fatFraction: 0.05, waterGain: 0.6, fatGain: 1.0),
        .cortex: TissueSignal(pd: 0.02, fatFraction: 0.0, waterGain: 0.5, fatGain: 1.0),
        .yellowMarrow: TissueSignal(pd: 0.9, fatFraction: 0.82, waterGain: 1.15, fatGain: 1.0),
        .redMarrow: TissueSignal(pd: 0.85, fatFraction: 0.7, waterGain: 1.15, fatGain: 1.0),
        .cartilage: TissueSignal(pd: 0.7, fatFraction: 0.0, waterGain: 1.0, fatGain: 1.0),
        .vessel: TissueSignal(pd: 0.85, fatFraction: 0.0, waterGain: 1.0, fatGain: 1.0),
        .nerve: TissueSignal(pd: 0.7, fatFraction: 0.3, waterGain: 1.0, fatGain: 1.0),
        .viscera: TissueSignal(pd: 0.8, fatFraction: 0.35, waterGain: 0.9, fatGain: 1.0),
        .fluid: TissueSignal(pd: 1.0, fatFraction: 0.0, waterGain: 0.7, fatGain: 1.0),
    ]

    static func make(rng: inout PhantomRandom, randomise: Bool, snr: Double, bias: Double) -> SignalModel {
        var t: [String: TissueSignal] = [:]
        // In tissue order, not the dictionary's: Swift randomises hash order per process, which made the random
        // draws land on different tissues from run to run (the same seed gave different images in two processes).
        for (tissue, base) in defaults.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            var s = base
            if randomise {
                // Random per-tissue intensities (the largest single factor for real-data Dice in the test).
                s.waterGain = base.waterGain * exp(rng.normal(0, 0.6))
                s.fatGain = base.fatGain * exp(rng.normal(0, 0.5))
            } else {
                s.waterGain = base.waterGain * exp(rng.normal(0, 0.06))
            }
            if tissue == .vessel { s.waterGain *= rng.uniform(0.3, 1.6) }  // inflow / flow voids
            t[String(describing: tissue)] = s
        }
        var mw: [String: Double] = [:]
        for m in Anatomy.muscles {
            for side in [Side.left, .right] {
                mw[String(m.label + side.labelOffset)] = randomise ? exp(rng.normal(0, 0.2)) : exp(rng.normal(0, 0.03))
            }
        }
        let muscle = t["muscle"]!
        let muscleSignal = muscle.pd * (1 - muscle.fatFraction) * muscle.waterGain
        let coeffs = (0..<9).map { _ in rng.normal(0, 1) * bias }
        return SignalModel(tissues: t, muscleWaterGain: mw, snr: snr, noiseSigma: muscleSignal / snr,
                           biasCoefficients: coeffs, contrastRandomised: randomise,
                           surfaceCoilStrength: rng.uniform(0, bias))
    }

    /// Dense lookup by tissue raw value.
    func table() -> [TissueSignal] {
        Tissue.allCases.map { tissues[String(describing: $0)] ?? TissueSignal(pd: 0, fatFraction: 0, waterGain: 0, fatGain: 0) }
    }

    /// Smooth multiplicative receive field (bias) at a point (mm), about exp(+-bias).
    @inline(__always) func bias(_ x: Double, _ y: Double, _ z: Double) -> Double {
        let c = biasCoefficients
        let u = x / 160, v = y / 140, w = z / 700
        return exp(c[0] * u + c[1] * v + c[2] * w + 0.5 * c[3] * u * u + 0.5 * c[4] * v * v + 0.5 * c[5] * w * w
                   + 0.5 * c[6] * u * v + 0.5 * c[7] * sin(2.1 * w + c[8]) + 0.3 * c[8] * u * w)
    }
}
