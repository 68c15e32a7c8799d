import Foundation
import Testing
import LegSegTestSupport
@testable import LegSegIO

/// The real QMRITools volumes in ../shared/data/qmritools (never committed). Skipped with a message when absent.
@Suite(.enabled(if: TestSupport.realDataDirectory != nil, "../shared/data/qmritools is absent: real-data tests skipped"))
struct RealDataTests {
    static let expected: [(String, Int)] = [
        ("test_up.nii.gz", 31), ("test_low.nii.gz", 31), ("calf_water.nii.gz", 23), ("calf_fat.nii.gz", 23),
        ("station_1.nii.gz", 31), ("station_3.nii.gz", 31), ("station_5.nii.gz", 31), ("station_7.nii.gz", 31),
    ]

    @Test(arguments: expected.map(\.0))
    func readsWithTheDocumentedGeometry(file: String) throws {
        let url = TestSupport.realDataDirectory!.appendingPathComponent(file)
        let image = try NIfTIReader.read(url)
        let slices = Self.expected.first { $0.0 == file }!.1
        #expect(image.volume.shape == [320, 320, slices])
        #expect(zip(image.volume.spacing, [1.5, 1.5, 6.0]).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(image.volume.orientation?.code == "RAS")
        #expect(image.warnings.isEmpty)
        // Zero background outside the body and real signal inside.
        #expect(image.volume.voxels.first == 0)
        #expect((image.volume.voxels.max() ?? 0) > 100)
        // Canonicalising and undoing is exact on real data too.
        let (c, t) = image.volume.canonicalised()
        #expect(c.orientation == .canonical)
        #expect(c.undoing(t).voxels == image.volume.voxels)
    }
}
