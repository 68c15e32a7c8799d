import Foundation
import Testing
import LegSegTestSupport

@Suite struct InfoCommandTests {
    var fixtures: URL { TestSupport.packageRoot.appendingPathComponent("Tests/LegSegIOTests/Fixtures") }

    @Test func oneLinePerFileWithShapeSpacingOrientationTypeAndRange() throws {
        let run = try CLIRun.legseg(["info", "valid/sform_only_lps.nii", "valid/fourd_float32.nii.gz"], in: fixtures)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("valid/sform_only_lps.nii: 5x4x3 voxels, 0.9x1.1x2.5 mm, LPS, int16, range "))
        #expect(lines[1].hasPrefix("valid/fourd_float32.nii.gz: 5x4x3 voxels, 1.5x1.5x6 mm, RAS, float32"))
        #expect(lines[1].hasSuffix("volume 1 of 3"))
        #expect(run.stderr.isEmpty)
    }

    @Test func jsonGivesOneObjectPerFile() throws {
        let run = try CLIRun.legseg(["info", "--json", "valid/qform_only_oblique.nii", "--volume", "0"], in: fixtures)
        #expect(run.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect(object["shape"] as? [Int] == [5, 4, 3])
        #expect(object["orientation"] as? String == "LAS")
        #expect(object["affine_source"] as? String == "qform")
        #expect(object["datatype"] as? String == "float32")
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("valid/qform_only_oblique.json"))) as! [String: Any]
        let zooms = record["zooms"] as! [Double], spacing = object["voxel_size_mm"] as! [Double]
        #expect(zip(zooms, spacing).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func badFilesPrintOneErrorLineEachAndTheRestStillRun() throws {
        let run = try CLIRun.legseg(["info", "broken/bad_magic.nii", "valid/dtype_uint8.nii", "broken/corrupt_gzip.nii.gz", "nope.nii"], in: fixtures)
        #expect(run.status == 1)
        #expect(run.stdout.split(separator: "\n").count == 1)
        #expect(run.stdout.hasPrefix("valid/dtype_uint8.nii: "))
        let errors = run.stderr.split(separator: "\n").map(String.init)
        #expect(errors == [
            "legseg: error: broken/bad_magic.nii: wrong magic \"XYZ\\x00\" for NIfTI-1, expected \"n+1\"",
            "legseg: error: broken/corrupt_gzip.nii.gz: corrupt gzip stream (invalid distance too far back)",
            "legseg: error: nope.nii: no such file",
        ])
    }

    @Test func everyBrokenFileGivesOneLineAndNoCrash() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures.appendingPathComponent("broken").path)
            .filter { $0.hasPrefix("manifest") == false }.sorted()
        let run = try CLIRun.legseg(["info"] + names.map { "broken/" + $0 }, in: fixtures)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        let errors = run.stderr.split(separator: "\n")
        #expect(errors.count == names.count)
        for (line, name) in zip(errors, names) { #expect(line.hasPrefix("legseg: error: broken/\(name): ")) }
    }

    @Test func nonFiniteVoxelsWarnOnce() throws {
        let run = try CLIRun.legseg(["info", "valid/non_finite_float32.nii"], in: fixtures)
        #expect(run.status == 0)
        #expect(run.stderr == "legseg: warning: valid/non_finite_float32.nii: 3 voxels are NaN or infinite; treated as 0\n")
    }

    @Test func aVolumeBeyondTheFileIsAnError() throws {
        let run = try CLIRun.legseg(["info", "--volume", "5", "valid/fourd_float32.nii.gz"], in: fixtures)
        #expect(run.status == 1)
        #expect(run.stderr.contains("volume 5 requested but the file holds 3 volumes"))
    }

    @Test func usageErrorsExitWith64() throws {
        let run = try CLIRun.legseg(["info", "--volume", "-1", "valid/dtype_uint8.nii"], in: fixtures)
        #expect(run.status == 64)
    }
}
