import Foundation
import Testing
import LegSegIO
import LegSegTestSupport

/// The same seed gives the same phantom in two separate processes (Swift randomises dictionary order per process;
/// a draw order that followed it once made images differ from run to run while every in-process test passed).
@Suite struct PhantomDeterminismAcrossProcessesTests {
    @Test func twoProcessesWriteIdenticalVoxels() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-phantom-det")
        defer { try? FileManager.default.removeItem(at: dir) }
        var voxels: [[Float]] = []
        for run in ["a", "b"] {
            let r = try CLIRun.legseg(["phantom", "--out", run, "--seed", "3", "--first", "2", "--regions", "lower-leg", "--fov-length", "60",
                                       "--voxel-size", "3,6", "--disease", "moderate", "--random-contrast", "--quiet"], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            voxels.append(try NIfTIReader.read(dir.appendingPathComponent("\(run)/phantom_0002_image.nii.gz")).volume.voxels)
        }
        #expect(voxels[0] == voxels[1])
    }
}
