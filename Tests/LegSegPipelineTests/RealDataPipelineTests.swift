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
