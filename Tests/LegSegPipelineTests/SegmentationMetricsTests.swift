import Foundation
import Testing
import LegSegIO
import LegSegPipeline
import LegSegTestSupport

/// Metrics checked against scipy.ndimage (fixtures from Fixtures/make_metric_fixtures.py), closed forms and a
/// brute-force distance transform.
@Suite struct SegmentationMetricsTests {
    static var fixtures: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("metrics") }

    struct Expected: Decodable {
        struct Case: Decodable {
            let name: String, pred: String, truth: String
            let spacing: [Double]
            let labels: [Label]
        }
        struct Label: Decodable {
            let label: Int
            let pred_voxels: Int, truth_voxels: Int, overlap_voxels: Int
            let dice: Double
            let hd95: Double?, asd: Double?
        }
        let cases: [Case]
    }

    static func load(_ name: String) throws -> Volume<Int32> {
        let image = try NIfTIReader.read(fixtures.appendingPathComponent(name))
        return try LabelVolume.labels(from: image.volume, file: name)
    }

    static func close(_ a: Double, _ b: Double?, _ tolerance: Double = 1e-9) -> Bool {
        guard let b else { return a == .infinity }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test(arguments: ["shapes", "permuted_axes", "blobs"])
    func agreesWithScipy(_ name: String) throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("expected.json")))
        let c = try #require(expected.cases.first { $0.name == name })
        let pred = try Self.load(c.pred), truth = try Self.load(c.truth)
        #expect(zip(pred.spacing, c.spacing).allSatisfy { abs($0 - $1) < 1e-6 })
        let result = try SegmentationMetrics.evaluate(predicted: pred, reference: truth)
        #expect(result.labels.map(\.label) == c.labels.map(\.label))
        for (got, want) in zip(result.labels, c.labels) {
            #expect(got.predictedVoxels == want.pred_voxels, "label \(want.label)")
            #expect(got.referenceVoxels == want.truth_voxels, "label \(want.label)")
            #expect(got.overlapVoxels == want.overlap_voxels, "label \(want.label)")
            #expect(Self.close(got.dice, want.dice), "label \(want.label) Dice \(got.dice) vs \(want.dice)")
            #expect(Self.close(got.hausdorff95MM, want.hd95), "label \(want.label) HD95 \(got.hausdorff95MM) vs \(String(describing: want.hd95))")
            #expect(Self.close(got.averageSurfaceDistanceMM, want.asd), "label \(want.label) ASD \(got.averageSurfaceDistanceMM) vs \(String(describing: want.asd))")
        }
    }

    static func grid(_ shape: [Int], spacing: [Double], boxes: [(label: Int32, lower: [Int], upper: [Int])]) -> Volume<Int32> {
        var v = Volume<Int32>(shape: shape, repeating: 0, affine: .scaling(spacing))
        for b in boxes {
            for k in b.lower[2]..<b.upper[2] { for j in b.lower[1]..<b.upper[1] { for i in b.lower[0]..<b.upper[0] { v[i, j, k] = b.label } } }
        }
        return v
    }

    @Test func concentricCubes() throws {
        // A 10-voxel cube around an 8-voxel cube, spacing s: every inner surface voxel is s from the outer
        // surface; of the outer surface's 488 voxels, 384 face voxels are s away, 96 edge voxels s√2, 8 corners s√3.
        let s = 1.5
        let truth = Self.grid([14, 14, 14], spacing: [s, s, s], boxes: [(1, [2, 2, 2], [12, 12, 12])])
        let pred = Self.grid([14, 14, 14], spacing: [s, s, s], boxes: [(1, [3, 3, 3], [11, 11, 11])])
        let m = try #require(try SegmentationMetrics.evaluate(predicted: pred, reference: truth).labels.first)
        #expect(Self.close(m.dice, 2.0 * 512 / 1512))
        // 95th percentile of the outer distances: rank 0.95 * 487 = 462.65 lies among the 96 edge voxels.
        #expect(Self.close(m.hausdorff95MM, s * 2.0.squareRoot()))
        #expect(Self.close(m.averageSurfaceDistanceMM, (296 * s + 384 * s + 96 * s * 2.0.squareRoot() + 8 * s * 3.0.squareRoot()) / (296 + 488)))
    }

    @Test(arguments: [0, 1, 2])
    func oneVoxelShiftAlongTheFinestAxisGivesHD95OfItsSpacing(_ axis: Int) throws {
        // The shifted axis has the smallest spacing, so each surface voxel is either on the other surface or one
        // step (s) from it: the 36 + 16 voxels of the two end faces that do not coincide, of 152, on each side.
        var spacing = [1.1, 1.3, 2.9]
        spacing[axis] = 0.7
        var lower = [1, 1, 1], upper = [7, 7, 7]
        let truth = Self.grid([9, 9, 9], spacing: spacing, boxes: [(3, lower, upper)])
        lower[axis] += 1; upper[axis] += 1
        let pred = Self.grid([9, 9, 9], spacing: spacing, boxes: [(3, lower, upper)])
        let m = try #require(try SegmentationMetrics.evaluate(predicted: pred, reference: truth).labels.first)
        #expect(m.label == 3)
        #expect(Self.close(m.dice, 2.0 * 180 / 432))
        #expect(Self.close(m.hausdorff95MM, 0.7))
        #expect(Self.close(m.averageSurfaceDistanceMM, 52 * 0.7 / 152))
    }

    @Test func identicalMapsArePerfect() throws {
        let v = Self.grid([8, 7, 6], spacing: [1, 2, 3], boxes: [(2, [1, 1, 1], [5, 4, 3]), (4, [0, 0, 3], [8, 7, 6])])
        let result = try SegmentationMetrics.evaluate(predicted: v, reference: v)
        #expect(result.labels.map(\.label) == [2, 4])
        for m in result.labels {
            #expect(m.dice == 1 && m.hausdorff95MM == 0 && m.averageSurfaceDistanceMM == 0)
        }
    }

    @Test func missingLabelsFollowTheConventions() throws {
        let truth = Self.grid([8, 8, 4], spacing: [1, 1, 1], boxes: [(1, [0, 0, 0], [4, 4, 4]), (2, [4, 4, 0], [8, 8, 4])])
        let pred = Self.grid([8, 8, 4], spacing: [1, 1, 1], boxes: [(1, [0, 0, 0], [4, 4, 4]), (3, [4, 0, 0], [8, 4, 4])])
        let result = try SegmentationMetrics.evaluate(predicted: pred, reference: truth, labels: [3, 1, 2, 5, 0, 1])
        #expect(result.labels.map(\.label) == [1, 2, 3, 5])  // sorted, no duplicates, background dropped
        let byLabel = Dictionary(uniqueKeysWithValues: result.labels.map { ($0.label, $0) })
        #expect(byLabel[2]!.presence == .referenceOnly && byLabel[2]!.dice == 0 && byLabel[2]!.hausdorff95MM == .infinity)
        #expect(byLabel[3]!.presence == .predictedOnly && byLabel[3]!.dice == 0 && byLabel[3]!.averageSurfaceDistanceMM == .infinity)
        #expect(byLabel[5]!.presence == .neither && byLabel[5]!.dice == 1 && byLabel[5]!.hausdorff95MM == 0)
        // Means: Dice over labels in either map (1, 0, 0); distances over labels in both (only label 1).
        #expect(Self.close(result.meanDice!, 1.0 / 3))
        #expect(result.meanHausdorff95MM == 0)
        #expect(result.meanAverageSurfaceDistanceMM == 0)
        // By default only labels present in either map are evaluated.
        #expect(try SegmentationMetrics.evaluate(predicted: pred, reference: truth).labels.map(\.label) == [1, 2, 3])
    }

    @Test func differentGridsAreRefusedNamingTheFile() throws {
        let a = Self.grid([4, 4, 4], spacing: [1, 1, 1], boxes: [])
        let b = Self.grid([4, 4, 5], spacing: [1, 1, 1], boxes: [])
        let c = Self.grid([4, 4, 4], spacing: [1, 1, 1.5], boxes: [])
        #expect(throws: LabelVolumeError.self) { try SegmentationMetrics.evaluate(predicted: a, reference: b, predictedFile: "p.nii", referenceFile: "t.nii") }
        do {
            _ = try SegmentationMetrics.evaluate(predicted: a, reference: c, predictedFile: "p.nii", referenceFile: "t.nii")
            Issue.record("expected an error")
        } catch let error as LabelVolumeError {
            #expect(error.description == "t.nii: affine differs from p.nii's by up to 0.5 mm; the volumes must be on the same voxel grid")
        }
    }

    @Test func nonIntegerVoxelsAreNotALabelMap() throws {
        var v = Volume<Float>(shape: [3, 2, 2], repeating: 1, affine: .identity)
        #expect(try LabelVolume.labels(from: v, file: "x.nii").voxels == [Int32](repeating: 1, count: 12))
        v[2, 1, 0] = 0.4
        #expect(throws: LabelVolumeError.self) { try LabelVolume.labels(from: v, file: "x.nii") }
        v[2, 1, 0] = -3
        do { _ = try LabelVolume.labels(from: v, file: "x.nii") } catch {
            #expect("\(error)".hasPrefix("x.nii: not a label map: voxel (2, 1, 0) holds -3.0"))
        }
    }

    @Test func floatAndIntegerVolumesGiveTheSameResult() throws {
        let truth = Self.grid([8, 8, 4], spacing: [1, 2, 3], boxes: [(1, [0, 0, 0], [4, 4, 4]), (2, [4, 4, 1], [8, 8, 3])])
        let pred = Self.grid([8, 8, 4], spacing: [1, 2, 3], boxes: [(1, [1, 0, 0], [4, 5, 4]), (2, [4, 3, 1], [7, 8, 4])])
        let direct = try SegmentationMetrics.evaluate(predicted: pred, reference: truth)
        let viaFloat = try SegmentationMetrics.evaluate(predicted: pred.map { Float($0) }, reference: truth.map { Float($0) })
        let viaBytes = try SegmentationMetrics.evaluate(predicted: LabelVolume.labels(from: pred.map { UInt8($0) }, file: "p"),
                                                        reference: LabelVolume.labels(from: truth.map { Int16($0) }, file: "t"))
        #expect(direct == viaFloat && direct == viaBytes)
        #expect(throws: LabelVolumeError.self) { try LabelVolume.labels(from: truth.map { Int16(-$0) }, file: "t") }
        #expect(throws: LabelVolumeError.self) { try SegmentationMetrics.evaluate(predicted: pred, reference: truth.map { $0 * 70_000 }) }
        #expect(throws: LabelVolumeError.self) { try LabelVolume.labels(from: truth.map { Float($0) * 40_000 }, file: "t") }
    }

    @Test func distanceTransformMatchesBruteForce() {
        // Random sparse features on an anisotropic grid, against the minimum over all features.
        var generator = SplitMix(seed: 7)
        let shape = [9, 7, 5], spacing = [0.6, 1.7, 3.1]
        let count = shape.reduce(1, *)
        let features = (0..<count).map { _ in generator.next() % 23 == 0 }
        let d = DistanceTransform.squaredDistances(toFeatures: features, shape: shape, spacing: spacing)
        let points = (0..<count).map { n in [n % shape[0], (n / shape[0]) % shape[1], n / (shape[0] * shape[1])] }
        for n in 0..<count {
            var best = Double.infinity
            for m in 0..<count where features[m] {
                best = min(best, (0..<3).reduce(0.0) { s, a in let x = spacing[a] * Double(points[n][a] - points[m][a]); return s + x * x })
            }
            #expect(abs(d[n] - best) < 1e-9)
        }
        #expect(DistanceTransform.squaredDistances(toFeatures: [Bool](repeating: false, count: 8), shape: [2, 2, 2], spacing: [1, 1, 1])
            .allSatisfy { $0 == .infinity })
    }
}

/// A tiny deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
