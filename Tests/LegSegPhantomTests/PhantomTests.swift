import Foundation
import LegSegIO
import LegSegTestSupport
import Testing

@testable import LegSegPhantom

/// Coarse options so the suite stays fast in a debug build.
func coarseOptions(_ regions: [BodyRegion], voxel: [Double] = [3, 3, 10]) -> PhantomOptions {
    var o = PhantomOptions()
    o.regions = regions
    o.voxelSize = voxel
    o.fineStepMM = 1.0
    o.fineSliceStepMM = 5
    o.levelSpacingMM = 15
    o.fitStepMM = 3.5
    return o
}

/// Label centroids in world (RAS+ mm) over the slices whose body region is `region`, for labels present there.
struct Centroids {
    var sum: [Int: (x: Double, y: Double, z: Double, n: Double)] = [:]
    init(_ labels: Volume<UInt8>, slices: [Int]) {
        let a = labels.affine
        for k in slices {
            for j in 0..<labels.shape[1] {
                for i in 0..<labels.shape[0] {
                    let l = Int(labels[i, j, k])
                    guard l != 0 else { continue }
                    let w = a.apply([Double(i), Double(j), Double(k)])
                    let s = sum[l] ?? (0, 0, 0, 0)
                    sum[l] = (s.x + w[0], s.y + w[1], s.z + w[2], s.n + 1)
                }
            }
        }
    }
    subscript(_ l: Int) -> (x: Double, y: Double)? {
        guard let s = sum[l], s.n > 0 else { return nil }
        return (s.x / s.n, s.y / s.n)
    }
    func count(_ l: Int) -> Double { sum[l]?.n ?? 0 }
}

/// Slices (k) whose level in the thigh (s_f) or lower leg (s_t) lies in `range`, for the first leg of `c`.
func slices(_ c: PhantomCase, thigh range: ClosedRange<Double>? = nil, leg lrange: ClosedRange<Double>? = nil) -> [Int] {
    let g = LegGeometry(subject: c.metadata.subject, leg: c.metadata.subject.legs[0])
    return (0..<c.labels.shape[2]).filter { k in
        let z = c.labels.affine.apply([0, 0, Double(k)])[2]
        if let r = range { return r.contains(g.sF(z)) }
        if let r = lrange { return r.contains(g.sT(z)) }
        return false
    }
}

@Suite struct PhantomTests {
    @Test func randomStreamsAreDeterministicAndDistinct() {
        var a = PhantomRandom(seed: 42), b = PhantomRandom(seed: 42), c = PhantomRandom(seed: 43)
        let xa = (0..<5).map { _ in a.nextUInt64() }, xb = (0..<5).map { _ in b.nextUInt64() }
        let xc = (0..<5).map { _ in c.nextUInt64() }
        #expect(xa == xb)
        #expect(xa != xc)
        var n = PhantomRandom(seed: 1)
        let v = (0..<20000).map { _ in n.normal() }
        let mean = v.reduce(0, +) / Double(v.count)
        let sd = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        #expect(abs(mean) < 0.03 && abs(sd - 1) < 0.03)
        #expect(abs(inverseNormalCDF(0.975) - 1.959964) < 1e-5)
    }

    @Test func labelTablesTranslateByName() {
        let n5 = LabelTables.translation(to: .thigh), n6 = LabelTables.translation(to: .lowerLeg)
        #expect(n5[55] == 12 && n5[56] == 12)  // vastus lateralis
        #expect(n5[151] == 21 && n5[103] == 19 && n5[5] == 0)
        #expect(n6[5] == 3 && n6[6] == 3 && n6[107] == 16 && n6[151] == 18 && n6[55] == 0)
        #expect(n6[105] == 15 && n5[105] == 20)  // patella is in both tables
        #expect(LabelTables.name(ofStandardized: 31) == "Biceps_Femoris_Long_Left")
        #expect(LabelTables.name(ofStandardized: 64) == "Satorius_Right")
        // Every label of both training tables exists in the standardized table.
        let std = Set(LabelTables.standardized.map { LabelTables.normalisedName($0.name) })
        for n in LabelTables.thighNetwork + LabelTables.lowerLegNetwork { #expect(std.contains(LabelTables.normalisedName(n))) }
    }

    @Test func sameSeedGivesIdenticalFiles() throws {
        var o = coarseOptions([.knee], voxel: [4, 4, 12])
        o.contrast = .all
        let a = try PhantomGenerator.generate(options: o, seed: 7, index: 3)
        let b = try PhantomGenerator.generate(options: o, seed: 7, index: 3)
        let c = try PhantomGenerator.generate(options: o, seed: 8, index: 3)
        #expect(a.labels.voxels == b.labels.voxels)
        #expect(a.images.count == 4)
        for (x, y) in zip(a.images, b.images) { #expect(x.volume.voxels == y.volume.voxels) }
        #expect(a.images[0].volume.voxels != c.images[0].volume.voxels)
        let d1 = try TestSupport.makeTemporaryDirectory("phantom-a"), d2 = try TestSupport.makeTemporaryDirectory("phantom-b")
        defer { try? FileManager.default.removeItem(at: d1); try? FileManager.default.removeItem(at: d2) }
        let f1 = try a.write(to: d1), f2 = try b.write(to: d2)
        #expect(f1.map(\.lastPathComponent) == ["phantom_0003_image.nii.gz", "phantom_0003_inphase.nii.gz",
                                                 "phantom_0003_water.nii.gz", "phantom_0003_fat.nii.gz",
                                                 "phantom_0003_labels.nii.gz", "phantom_0003.json"])
        for (u, v) in zip(f1, f2) { #expect(try Data(contentsOf: u) == Data(contentsOf: v)) }
        // The files read back with the same geometry and labels.
        let back = try NIfTIReader.read(f1[4])
        #expect(back.volume.shape == a.labels.shape)
        #expect(back.volume.affine.maxAbsDifference(a.labels.affine) < 1e-4)
        #expect(back.volume.voxels.map { UInt8($0) } == a.labels.voxels)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: f1[5])) as! [String: Any]
        #expect((json["sliceRegions"] as! [String]).count == a.labels.shape[2])
        #expect(json["legs"] as! [String] == ["right", "left"])
    }

    @Test func leftLabelsLieOnTheSubjectsLeft() throws {
        for orientation in ["LPS", "RAS"] {
            var o = coarseOptions([.thigh])
            o.fieldOfViewLengthMM = 80
            o.orientation = orientation
            let c = try PhantomGenerator.generate(options: o, seed: 3)
            #expect(Orientation(affine: c.labels.affine)?.code == orientation)
            let cents = Centroids(c.labels, slices: Array(0..<c.labels.shape[2]))
            var checked = 0
            for (l, _) in cents.sum where l < 150 && l != 121 {
                let x = cents[l]!.x  // RAS: +x is the subject's right
                if l % 2 == 1 { #expect(x < 0, "left label \(l) at x = \(x)") } else { #expect(x > 0, "right label \(l) at x = \(x)") }
                checked += 1
            }
            #expect(checked > 20)
            // Every label painted belongs to the standardized table.
            let known = Set(LabelTables.standardized.flatMap { [$0.left] + ($0.right.map { [$0] } ?? []) })
            #expect(Set(c.labels.voxels.map(Int.init)).isSubset(of: known))
        }
        // A single leg has only its side's labels.
        var o = coarseOptions([.lowerLeg])
        o.legs = .left
        o.fieldOfViewLengthMM = 60
        let c = try PhantomGenerator.generate(options: o, seed: 5)
        #expect(c.labels.voxels.allSatisfy { $0 == 0 || $0 == 151 || $0 % 2 == 1 })
        #expect(c.metadata.legs == ["left"])
    }

    @Test func thighRelations() throws {
        let c = try PhantomGenerator.generate(options: coarseOptions([.thigh, .knee], voxel: [2.5, 2.5, 10]), seed: 11)
        let mid = slices(c, thigh: 0.45...0.55)
        #expect(!mid.isEmpty)
        let cen = Centroids(c.labels, slices: mid)
        for side in [0, 1] {  // 0 left (odd labels), 1 right
            let femur = cen[103 + side]!
            let lateralSign: Double = side == 0 ? -1 : 1  // RAS x toward the lateral side of this leg
            func ant(_ l: Int) -> Double { cen[l + side]!.y - femur.y }
            func lat(_ l: Int) -> Double { (cen[l + side]!.x - femur.x) * lateralSign }
            #expect(ant(L.rectusFemoris) > 15, "rectus femoris anterior to the femur")
            #expect(abs(lat(L.rectusFemoris)) < 25, "rectus femoris in front of, not beside, the femur")
            #expect(ant(L.bicepsFemorisLong) < -20 && lat(L.bicepsFemorisLong) > 0, "biceps femoris posterolateral")
            #expect(lat(L.sartorius) < -20 && ant(L.sartorius) > -25, "sartorius anteromedial")
            #expect(lat(L.vastusLateralis) > 15, "vastus lateralis lateral")
            #expect(lat(L.vastusMedialis) < -5 && ant(L.vastusMedialis) > 0, "vastus medialis anteromedial")
            #expect(lat(L.gracilis) < -30, "gracilis most medial")
            #expect(ant(L.adductorMagnus) < 0 && lat(L.adductorMagnus) < 0, "adductor magnus posteromedial")
            #expect(ant(L.semitendinosus) < ant(L.semimembranosus) + 5, "semitendinosus superficial (posterior) to semimembranosus")
            #expect(lat(L.semitendinosus) < lat(L.bicepsFemorisLong), "semitendinosus medial to biceps femoris")
            // VI wraps the femur under RF: VI touches the femur, RF does not.
            #expect(touching(c.labels, L.vastusIntermedius + side, 103 + side, slices: mid) > 10)
            #expect(touching(c.labels, L.rectusFemoris + side, 103 + side, slices: mid) <= 2)
            #expect(ant(L.vastusIntermedius) > 0 && ant(L.vastusIntermedius) < ant(L.rectusFemoris))
        }
        // Biceps femoris short head appears only in the distal thigh.
        let proximal = Centroids(c.labels, slices: slices(c, thigh: 0.1...0.35))
        let distal = Centroids(c.labels, slices: slices(c, thigh: 0.65...0.85))
        #expect(proximal.count(L.bicepsFemorisShort) == 0 && distal.count(L.bicepsFemorisShort) > 0)
        // Vastus medialis grows distally; rectus femoris ends as a tendon above the knee.
        #expect(distal.count(L.vastusMedialis) > proximal.count(L.vastusMedialis))
        #expect(Centroids(c.labels, slices: slices(c, thigh: 0.8...0.95)).count(L.rectusFemoris) == 0)
    }

    @Test func lowerLegRelations() throws {
        let c = try PhantomGenerator.generate(options: coarseOptions([.lowerLeg, .ankle], voxel: [2.5, 2.5, 10]), seed: 12)
        let cen = Centroids(c.labels, slices: slices(c, leg: 0.4...0.5))
        let upper = Centroids(c.labels, slices: slices(c, leg: 0.2...0.3))
        for side in [0, 1] {
            let lateralSign: Double = side == 0 ? -1 : 1
            let tibia = cen[107 + side]!, fibula = cen[109 + side]!
            #expect((fibula.x - tibia.x) * lateralSign > 15, "fibula lateral to the tibia")
            let ta = cen[L.tibialisAnterior + side]!
            #expect(ta.y > tibia.y - 5 && (ta.x - tibia.x) * lateralSign > 5, "tibialis anterior anterolateral to the tibia")
            // Tibialis posterior between tibia and fibula, behind the interosseous membrane.
            let tp = cen[L.tibialisPosterior + side]!
            #expect((tp.x - tibia.x) * lateralSign > 0 && (fibula.x - tp.x) * lateralSign > -5)
            #expect(tp.y < (tibia.y + fibula.y) / 2)
            // Soleus deep to (in front of) the gastrocnemii.
            let sol = upper[L.soleus + side]!, mg = upper[L.medialGastrocnemius + side]!, lg = upper[L.lateralGastrocnemius + side]!
            #expect(sol.y > mg.y && sol.y > lg.y, "soleus deep to the gastrocnemii")
            #expect((mg.x - lg.x) * lateralSign < 0, "medial head medial to the lateral head")
            let pl = cen[L.fibularisLongus + side]!
            #expect((pl.x - tibia.x) * lateralSign > 25, "fibularis longus lateral")
        }
        // Soleus reaches further down than the gastrocnemii.
        let low = Centroids(c.labels, slices: slices(c, leg: 0.6...0.8))
        #expect(low.count(L.soleus) > 0 && low.count(L.medialGastrocnemius) == 0 && low.count(L.lateralGastrocnemius) == 0)
    }

    @Test func muscleVolumesFallInLiteratureRanges() throws {
        // Whole leg of a healthy subject; ranges (cm3) from MRI studies of adults collected in leg-anatomy.md
        // sections 2, 4.3, 5.3 ([H14] regression spread for 1.5-2.0 m / 50-100 kg, [F92], [HP-Ru], [WU21], [FR19]).
        var o = coarseOptions([.thigh, .knee, .lowerLeg, .ankle], voxel: [2.5, 2.5, 5])
        o.legs = .right
        let ranges: [Int: ClosedRange<Double>] = [
            L.vastusLateralis: 350...1400, L.vastusMedialis: 200...800, L.rectusFemoris: 120...480,
            L.vastusIntermedius: 150...700, L.sartorius: 70...300, L.gracilis: 50...200, L.adductorMagnus: 250...950,
            L.adductorLongus: 70...300, L.semimembranosus: 120...420, L.semitendinosus: 80...340,
            L.bicepsFemorisLong: 100...360, L.bicepsFemorisShort: 40...190,
            L.soleus: 250...750, L.medialGastrocnemius: 120...420, L.lateralGastrocnemius: 60...260,
            L.tibialisAnterior: 70...250, L.tibialisPosterior: 50...180, L.extensorDigitorumLongus: 30...130,
            L.fibularisLongus: 40...170,
        ]
        for seed: UInt64 in [21, 22] {
            let c = try PhantomGenerator.generate(options: o, seed: seed)
            var counts = [Int](repeating: 0, count: 256)
            for v in c.labels.voxels { counts[Int(v)] += 1 }
            let voxel = c.labels.voxelVolumeMM3 / 1000
            for (l, r) in ranges {
                let v = Double(counts[l + 1]) * voxel
                #expect(r.contains(v), "label \(l + 1): \(v) cm3 outside \(r)")
            }
            // The painted volume follows the model's target (per-muscle volume x scale) within 25 %.
            let vTot = c.metadata.subject.totalMuscleVolumeCM3
            for m in Anatomy.muscles where m.frame == .leg || (m.start > 0.05 && m.label < 70) {
                let target = m.volume(vTot: vTot) * (c.metadata.subject.legs[0].muscleScale[String(m.label + 1)] ?? 1)
                let painted = Double(counts[m.label + 1]) * voxel
                #expect(abs(painted - target) / target < (target < 30 ? 0.35 : 0.25), "label \(m.label + 1): painted \(painted), target \(target)")
            }
        }
    }

    @Test func outPhaseShowsDarkBordersAndFatInfiltrationIsStreaky() throws {
        var o = coarseOptions([.thigh], voxel: [1.5, 1.5, 10])
        o.fieldOfViewLengthMM = 30
        o.contrast = .all
        o.snrRange = [1000, 1000]
        o.biasStrength = 0
        o.legs = .right
        o.diseaseSeverity = 0.8
        o.diseasePattern = .duchenne
        let c = try PhantomGenerator.generate(options: o, seed: 31)
        let op = c.images[0].volume, water = c.images[2].volume, fat = c.images[3].volume
        let lab = c.labels
        // Voxels on a border between two different muscles are darker on out-phase than voxels deep inside.
        var border: [Float] = [], inner: [Float] = []
        let (ni, nj) = (lab.shape[0], lab.shape[1])
        for k in 0..<lab.shape[2] {
            for j in 2..<(nj - 2) {
                for i in 2..<(ni - 2) {
                    let l = lab[i, j, k]
                    guard l > 0 && l < 100 else { continue }
                    let nb = [lab[i + 1, j, k], lab[i - 1, j, k], lab[i, j + 1, k], lab[i, j - 1, k]]
                    if nb.contains(where: { $0 != l && $0 > 0 && $0 < 100 }) { border.append(op[i, j, k]) }
                    else if (-2...2).allSatisfy({ d in lab[i + d, j, k] == l && lab[i, j + d, k] == l }) { inner.append(op[i, j, k]) }
                }
            }
        }
        func median(_ v: [Float]) -> Float { v.sorted()[v.count / 2] }
        #expect(border.count > 50 && inner.count > 200)
        // Healthy-looking muscle is brighter inside than on its borders (partial-volume cancellation).
        #expect(median(border) < 0.9 * median(inner))
        // Fat fraction inside a severely involved muscle matches its target and varies from voxel to voxel.
        let target = c.metadata.subject.legs[0].muscleFatFraction[String(L.vastusLateralis + 1)]!
        var ffs: [Double] = []
        for n in lab.voxels.indices where lab.voxels[n] == UInt8(L.vastusLateralis + 1) {
            ffs.append(Double(fat.voxels[n] / max(water.voxels[n] + fat.voxels[n], 1e-6)))
        }
        let mean = ffs.reduce(0, +) / Double(ffs.count)
        let sd = (ffs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(ffs.count)).squareRoot()
        #expect(target > 0.3)
        #expect(abs(mean - target) < 0.15, "mean fat fraction \(mean), target \(target)")
        #expect(sd > 0.15, "infiltration is streaky, not a smooth per-muscle value (sd \(sd))")
    }

    @Test func slicesCarryBodyRegionsInOrderAndContrastRandomisationKeepsLabels() throws {
        var o = coarseOptions(BodyRegion.allCases, voxel: [6, 6, 20])
        o.legs = .left
        o.snrRange = [500, 500]
        o.fineStepMM = 3
        o.fineSliceStepMM = 20
        o.levelSpacingMM = 25
        o.fitStepMM = 5
        let plain = try PhantomGenerator.generate(options: o, seed: 41)
        // Inferior to superior: ankle, lower leg, knee, thigh, hip, each a contiguous run.
        let order = ["ankle", "lower-leg", "knee", "thigh", "hip"]
        var runs: [String] = []
        for r in plain.metadata.sliceRegions where runs.last != r { runs.append(r) }
        #expect(runs == order)
        o.randomiseContrast = true
        let random = try PhantomGenerator.generate(options: o, seed: 41)
        #expect(random.labels.voxels == plain.labels.voxels)
        #expect(random.metadata.signal.contrastRandomised)
        // Muscle-to-fat intensity ratio changes with random per-tissue gains.
        func ratio(_ c: PhantomCase) -> Double {
            var m = 0.0, nm = 0.0, f = 0.0, nf = 0.0
            for (n, l) in c.labels.voxels.enumerated() {
                if l == UInt8(L.vastusLateralis) { m += Double(c.images[0].volume.voxels[n]); nm += 1 }
                if l == UInt8(L.subcutaneousFat) { f += Double(c.images[0].volume.voxels[n]); nf += 1 }
            }
            return (m / nm) / (f / nf)
        }
        #expect(abs(ratio(random) - ratio(plain)) > 0.05)
    }

    /// Out-phase intensity distribution inside the thighs, relative to the in-body 95th percentile, and the
    /// cross-section per leg, compared with the real QMRITools thigh volume (skipped when it is absent).
    @Test func thighResemblesRealOutPhase() throws {
        guard let dir = TestSupport.realDataDirectory else {
            print("skipped: real QMRITools data not found (../shared/data/qmritools)")
            return
        }
        func stats(_ v: Volume<Float>, slices: [Int]) -> (p25: Double, p50: Double, areaPerLegCM2: Double) {
            var values: [Float] = []
            for k in slices {
                var plane: [Float] = []
                for j in 0..<v.shape[1] { for i in 0..<v.shape[0] { plane.append(v[i, j, k]) } }
                let p99 = plane.sorted()[Int(0.99 * Double(plane.count - 1))]
                values += plane.filter { $0 > 0.15 * p99 }
            }
            values.sort()
            let p95 = Double(values[Int(0.95 * Double(values.count - 1))])
            let pct = { (q: Double) in Double(values[Int(q * Double(values.count - 1))]) / p95 }
            let pixel = v.spacing[0] * v.spacing[1] / 100
            return (pct(0.25), pct(0.5), Double(values.count) * pixel / Double(slices.count) / 2)
        }
        let real = try NIfTIReader.read(dir.appendingPathComponent("test_up.nii.gz")).volume
        let r = stats(real, slices: [10, 15, 20])
        var o = coarseOptions([.thigh], voxel: [1.5, 1.5, 6])
        o.fineStepMM = 0.5
        o.fieldOfViewLengthMM = 30
        o.snrRange = [30, 30]
        let c = try PhantomGenerator.generate(options: o, seed: 51)
        let p = stats(c.images[0].volume, slices: Array(0..<c.labels.shape[2]))
        #expect(abs(p.p50 - r.p50) < 0.15, "median \(p.p50) vs real \(r.p50)")
        #expect(abs(p.p25 - r.p25) < 0.2, "p25 \(p.p25) vs real \(r.p25)")
        #expect(p.areaPerLegCM2 > 0.5 * r.areaPerLegCM2 && p.areaPerLegCM2 < 2 * r.areaPerLegCM2,
                "leg area \(p.areaPerLegCM2) vs real \(r.areaPerLegCM2) cm2")
    }

    @Test func badOptionsAreRefused() {
        var o = PhantomOptions()
        o.voxelSize = [1, 1]
        #expect(throws: PhantomError.self) { try PhantomGenerator.generate(options: o, seed: 1) }
        o = PhantomOptions()
        o.snrRange = [10, 5]
        #expect(throws: PhantomError.self) { try PhantomGenerator.generate(options: o, seed: 1) }
    }

    /// The T1-like image is `a·water + fat` with `a` in 0.3–0.55 (fit by least squares against the same phantom's
    /// water and fat images at negligible noise): fat bright, muscle mid-grey, labels unchanged.
    @Test func t1LikeContrastWeightsWaterBelowFat() throws {
        var o = coarseOptions([.thigh], voxel: [3, 3, 10])
        o.fieldOfViewLengthMM = 40
        o.snrRange = [100_000, 100_000]
        o.biasStrength = 0
        o.contrast = .all
        let dixon = try PhantomGenerator.generate(options: o, seed: 52)
        o.contrast = .t1Like
        let t1 = try PhantomGenerator.generate(options: o, seed: 52)
        #expect(t1.labels.voxels == dixon.labels.voxels)
        #expect(t1.images.map(\.contrast) == [.t1Like])
        let s = t1.images[0].volume.voxels, w = dixon.images[2].volume.voxels, f = dixon.images[3].volume.voxels
        // Normal equations of s ≈ a·w + b·f over the body.
        var ww = 0.0, wf = 0.0, ff = 0.0, sw = 0.0, sf = 0.0
        for n in s.indices where t1.labels.voxels[n] != 0 {
            let (x, y, z) = (Double(w[n]), Double(f[n]), Double(s[n]))
            ww += x * x; wf += x * y; ff += y * y; sw += z * x; sf += z * y
        }
        let det = ww * ff - wf * wf
        let a = (sw * ff - sf * wf) / det, b = (ww * sf - wf * sw) / det
        #expect(a > 0.29 && a < 0.56, "water weight \(a)")
        #expect(abs(b - 1) < 0.02, "fat weight \(b)")
        func mean(_ v: [Float], _ label: Int) -> Double {
            let sel = t1.labels.voxels.indices.filter { Int(t1.labels.voxels[$0]) == label }
            return sel.map { Double(v[$0]) }.reduce(0, +) / Double(sel.count)
        }
        let muscle = L.vastusLateralis, fat = L.subcutaneousFat
        let t1Ratio = mean(s, muscle) / mean(s, fat), inPhaseRatio = mean(dixon.images[1].volume.voxels, muscle) / mean(dixon.images[1].volume.voxels, fat)
        #expect(t1Ratio < 0.75 * inPhaseRatio, "muscle/fat: T1-like \(t1Ratio), in-phase \(inPhaseRatio)")
    }
}

/// Number of voxels of label `a` with a 4-neighbour of label `b`, in the given slices.
func touching(_ v: Volume<UInt8>, _ a: Int, _ b: Int, slices: [Int]) -> Int {
    var n = 0
    for k in slices {
        for j in 1..<(v.shape[1] - 1) {
            for i in 1..<(v.shape[0] - 1) where Int(v[i, j, k]) == a {
                if [v[i + 1, j, k], v[i - 1, j, k], v[i, j + 1, k], v[i, j - 1, k]].contains(where: { Int($0) == b }) { n += 1 }
            }
        }
    }
    return n
}
