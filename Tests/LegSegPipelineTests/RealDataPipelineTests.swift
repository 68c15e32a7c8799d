import Foundation
import Testing
import LegSegIO
import LegSegTestSupport
@testable import LegSegPipeline

/// The pipeline's geometric steps on the real QMRITools volumes (skipped with a message when absent).
@Suite(.enabled(if: TestSupport.realDataDirectory != nil, "../shared/data/qmritools is absent: real-data pipeline tests skipped"))
struct RealDataPipelineTests {
    @Test(arguments: ["test_up.nii.gz", "test_low.nii.gz", "calf_water.nii.gz", "station_3.nii.gz", "station_5.nii.gz", "station_7.nii.gz"])
    func findsBothLegs(file: String) throws {
        let image = try NIfTIReader.read(TestSupport.realDataDirectory!.appendingPathComponent(file))
        let (canonical, _) = image.volume.canonicalised()
        let mask = ForegroundMask()(canonical)
        let legs = LegSides().split(mask)
        #expect(legs.map(\.side) == [.right, .left], "\(file)")
        // The cut lies in the gap or, where the legs touch (station_3) or join at the pelvis (station_7), in the
        // deepest valley of the mask's column profile between them: well below the legs' widest columns.
        let profile = LegSides().columnProfile(mask)
        let cut = legs[0].owned.upperBound
        #expect(profile[cut] < 0.5 * profile.max()!, "\(file): cut at \(cut)")
        let width = mask.shape[0]
        #expect(cut > width / 4 && cut < 3 * width / 4)
        // In RAS input the subject's right leg has the larger world x.
        let fraction = Double(mask.voxels.reduce(0) { $0 + Int($1) }) / Double(mask.count)
        #expect(fraction > 0.05 && fraction < 0.6)
    }
}

/// The whole pipeline on a real scan, with a tiny random-weight network standing in for a trained one: it runs,
/// finds both legs, and writes labels on the input's grid, inside the body, each leg with its own side.
@Suite(.enabled(if: TestSupport.realDataDirectory != nil, "../shared/data/qmritools is absent: real-data pipeline tests skipped"))
struct RealDataSegmentationTests {
    @Test func segmentsTestUpOnItsOwnGrid() throws {
        let image = try NIfTIReader.read(TestSupport.realDataDirectory!.appendingPathComponent("test_up.nii.gz"))
        var options = SegmentationOptions()
        options.region = .thigh
        let segmenter = Segmenter(networks: [.thigh: try SegmenterTests.tinyNetwork()], classifier: nil, options: options)
        let (labels, report) = try segmenter.segment(image.volume, file: "test_up.nii.gz")
        #expect(report.legs.map(\.side) == [.right, .left])
        #expect(labels.shape == image.volume.shape && labels.affine == image.volume.affine)
        // RAS input: x = affine row 0; the subject's left has smaller x. Left labels (odd) must lie there.
        var leftX = 0.0, leftN = 0.0, rightX = 0.0, rightN = 0.0, labelled = 0.0, dark = 0.0
        for (n, l) in labels.voxels.enumerated() where l != 0 {
            labelled += 1
            if image.volume.voxels[n] == 0 { dark += 1 }  // only the smoothed mask border may be zero-valued
            guard l != 151 else { continue }
            let x = labels.affine.apply([Double(n % 320), 0, 0])[0]
            if l % 2 == 1 { leftX += x; leftN += 1 } else { rightX += x; rightN += 1 }
        }
        #expect(dark / labelled < 0.01)
        #expect(leftN > 0 && rightN > 0)
        #expect(leftX / leftN < rightX / rightN)
    }
}
