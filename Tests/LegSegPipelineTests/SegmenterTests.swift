import Foundation
import Testing
import LegSegDNNL
import LegSegEngine
import LegSegIO
@testable import LegSegPipeline

/// End-to-end behaviour of the pipeline that holds whatever the network's weights: orientation handling, sides,
/// one leg, empty input. A tiny random-weight UNet stands in for a trained one (Dice against truth is measured
/// with trained networks, not here).
@Suite(.serialized) struct SegmenterTests {
    static func tinyNetwork() throws -> RegionNetwork {
        let config = UNetConfiguration(classes: 3, depth: 2, baseFeatures: 4, downsampling: [[1, 2, 2]], dropout: 0)
        var state: UInt64 = 42
        var weights: [String: HostTensor] = [:]
        for spec in config.parameterSpecs() {
            let n = spec.shape.reduce(1, *)
            let data: [Float] = (0..<n).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let u = Float(state >> 40) / Float(1 << 24)
                return spec.name.hasSuffix("running_var") ? 1 + u : (spec.name.hasSuffix("running_mean") ? 0 : (u - 0.5) * 0.8)
            }
            weights[spec.name] = try HostTensor(shape: spec.shape, data: data)
        }
        let unet = try UNet(configuration: config, weights: weights, backend: try DNNLBackend(), precision: .f32)
        // Class 1 → label 61/62 (rectus femoris left/right), class 2 → 151 (unsided fat).
        return RegionNetwork(region: .thigh, unet: unet, normalization: InputNormalization(rule: "uniform", bins: 256),
                             outputLabels: [.left: [0, 61, 151], .right: [0, 62, 151]])
    }

    func segmenter() throws -> Segmenter {
        var options = SegmentationOptions()
        options.region = .thigh
        options.memoryBudgetBytes = 250e6  // small patches, so several overlap
        return Segmenter(networks: [.thigh: try Self.tinyNetwork()], classifier: nil, options: options)
    }

    /// Two legs in canonical LPS layout, centred on the scanner's midline.
    let lps = Affine(rows: [[-1.5, 0, 0, 47.25], [0, -1.5, 0, 30], [0, 0, 6, -15], [0, 0, 0, 1]])

    @Test func everyReorientedCopyGetsTheCorrespondinglyTransformedLabels() throws {
        let (image, _) = syntheticLegs(centres: [(16, 20), (47, 20)], affine: lps)
        let s = try segmenter()
        let (reference, report) = try s.segment(image)
        #expect(report.legs.count == 2)
        #expect(reference.voxels.contains(where: { $0 != 0 }))
        for code in ["RAS", "LAS", "PSR", "IRA", "SPL"] {
            let (copy, _) = image.reoriented(to: Orientation(code: code)!)
            let (labels, _) = try s.segment(copy)
            #expect(labels.shape == copy.shape && labels.affine == copy.affine)
            // Back in canonical layout the labels must be identical to the reference's.
            #expect(labels.canonicalised().volume.voxels == reference.voxels, "\(code)")
        }
        // An oblique copy (same voxels, affine rotated by 12° about z) canonicalises to the same layout.
        var oblique = image
        let c = cos(0.21), sn = sin(0.21)
        let r = Affine(rows: [[c, -sn, 0, 0], [sn, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
        oblique.affine = r * image.affine
        let (obliqueLabels, _) = try s.segment(oblique)
        #expect(obliqueLabels.voxels == reference.voxels)
        #expect(obliqueLabels.affine == oblique.affine)
    }

    @Test func leftLabelsStayOnTheSubjectsLeft() throws {
        let (image, _) = syntheticLegs(centres: [(16, 20), (47, 20)], affine: lps)
        for copy in [image, image.reoriented(to: .ras).volume] {
            let (labels, _) = try segmenter().segment(copy)
            var leftX: [Double] = [], rightX: [Double] = []
            for k in 0..<labels.shape[2] { for j in 0..<labels.shape[1] { for i in 0..<labels.shape[0] {
                let l = labels[i, j, k]
                guard l != 0, l != 151 else { continue }
                let x = labels.affine.apply([Double(i), Double(j), Double(k)])[0]  // RAS: + is the subject's right
                if l % 2 == 1 { leftX.append(x) } else { rightX.append(x) }
            } } }
            #expect(!leftX.isEmpty && !rightX.isEmpty)
            #expect(leftX.max()! < 0 && rightX.min()! > 0)
        }
    }

    @Test func oneLegGetsOneSideAndAnEmptyImageAnEmptyMap() throws {
        let (image, _) = syntheticLegs(centres: [(47, 20)], affine: lps)  // world x < 0: the subject's left
        let (labels, report) = try segmenter().segment(image)
        #expect(report.legs.map(\.side) == [.left])
        #expect(!labels.voxels.contains(62))
        let empty = Volume<Float>(shape: [20, 20, 4], repeating: 0, affine: lps)
        let (none, emptyReport) = try segmenter().segment(empty)
        #expect(!none.voxels.contains { $0 != 0 })
        #expect(emptyReport.warnings.first?.contains("no leg found") == true)
    }

    @Test func labelsStayInsideTheBodyAndEachLabelIsOneComponent() throws {
        let (image, truth) = syntheticLegs(centres: [(16, 20), (47, 20)], affine: lps)
        let (labels, _) = try segmenter().segment(image)
        let mask = ForegroundMask()(image)
        for n in labels.voxels.indices where labels.voxels[n] != 0 { #expect(mask.voxels[n] == 1) }
        _ = truth
        for label in Set(labels.voxels) where label != 0 {
            let v = labels.voxels
            #expect(ConnectedComponents(shape: labels.shape) { v[$0] == label }.sizes.count == 1)
        }
    }

    @Test func autoRegionsWithoutAClassifierIsAClearError() throws {
        let s = try segmenter()
        s.options.region = .legs
        let (image, _) = syntheticLegs(centres: [(16, 20)], affine: lps)
        #expect(throws: SegmentationError.self) { try s.segment(image, file: "scan.nii.gz") }
    }

    @Test func mirroredTestTimeAugmentationMakesPredictionsLeftRightSymmetric() throws {
        // On an input symmetric in i, averaging with the mirrored pass makes the class map symmetric as well
        // (without it, a random network's map is not).
        var sub = Volume<Float>(shape: [16, 12, 4], repeating: 0, affine: lps)
        var state: UInt64 = 3
        for k in 0..<4 { for j in 0..<12 { for i in 0..<8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let v = Float(state >> 40) / Float(1 << 24)
            sub[i, j, k] = v; sub[15 - i, j, k] = v
        } } }
        let s = try segmenter()
        /// Largest difference between a voxel's confidence and its mirror voxel's.
        func asymmetry(_ c: [Float]) -> Float {
            var worst: Float = 0
            for k in 0..<4 { for j in 0..<12 { for i in 0..<16 { worst = max(worst, abs(c[i + 16 * (j + 12 * k)] - c[15 - i + 16 * (j + 12 * k)])) } } }
            return worst
        }
        s.options.memoryBudgetBytes = 1e12  // one patch covering everything
        let plain = try s.predict(sub, network: try Self.tinyNetwork())
        s.options.mirror = true
        let mirrored = try s.predict(sub, network: try Self.tinyNetwork())
        #expect(asymmetry(mirrored.confidence) < 1e-5)
        #expect(asymmetry(plain.confidence) > 1e-3)
        for k in 0..<4 { for j in 0..<12 { for i in 0..<16 {
            #expect(mirrored.classes[i + 16 * (j + 12 * k)] == mirrored.classes[15 - i + 16 * (j + 12 * k)])
        } } }
        #expect(mirrored.patch == plain.patch && mirrored.count == 1)
    }

    /// The one-pass largest-component filter agrees with a per-label reference built on `ConnectedComponents`
    /// (largest component of each label's mask kept, ties to the first found), on random speckled label maps.
    @Test func largestComponentPerLabelMatchesAPerLabelReference() {
        var state: UInt64 = 99
        for trial in 0..<5 {
            let shape = [17, 13, 6 + trial]
            var v = Volume<UInt8>(shape: shape, repeating: 0, affine: lps)
            for n in v.voxels.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let r = Int(state >> 59)  // 0...31
                v.voxels[n] = r < 12 ? 0 : UInt8([3, 7, 151, 61][r % 4])
            }
            var expected = v
            for label in Set(v.voxels) where label != 0 {
                let voxels = v.voxels
                let components = ConnectedComponents(shape: shape) { voxels[$0] == label }
                for n in voxels.indices where voxels[n] == label && components.labels[n] != 1 { expected.voxels[n] = 0 }
            }
            var got = v
            Segmenter.keepLargestComponents(&got)
            #expect(got.voxels == expected.voxels, "trial \(trial)")
        }
    }

    /// An unsided label (subcutaneous fat, 151) on both legs keeps its ring on each leg; a fragment on one leg goes.
    /// (Found on real scans: per label alone, only the larger leg's fat ring survived.)
    @Test func largestComponentIsPerLegForUnsidedLabels() {
        let shape = [20, 10, 3]
        var v = Volume<UInt8>(shape: shape, repeating: 0, affine: lps)
        for k in 0..<3 {
            for j in 2..<8 {
                for i in 2..<8 { v[i, j, k] = 151 }    // right leg (low i): larger fat block
                for i in 12..<16 { v[i, j, k] = 151 }  // left leg: smaller fat block
            }
            v[4, 9, k] = 5; v[13, 9, k] = 6            // a sided muscle on each leg
        }
        v[18, 0, 0] = 151                            // a fragment on the left leg
        let legs = [LegPart(side: .right, columns: 0..<10), LegPart(side: .left, columns: 10..<20)]
        var got = v
        Segmenter.keepLargestComponents(&got, legs: legs)
        #expect(got[14, 5, 1] == 151 && got[3, 5, 1] == 151, "both legs keep their fat")
        #expect(got[18, 0, 0] == 0, "the fragment goes")
        #expect(got[4, 9, 2] == 5 && got[13, 9, 2] == 6)
        var single = v
        Segmenter.keepLargestComponents(&single)
        #expect(single[14, 5, 1] == 0, "without legs the smaller ring is removed: why legs are passed")
    }
}
