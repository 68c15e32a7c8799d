import Foundation
import Testing
import LegSegIO
import LegSegTestSupport

/// `legseg evaluate` on the metric fixtures (made with scipy by Tests/LegSegPipelineTests/Fixtures/make_metric_fixtures.py).
@Suite struct EvaluateCommandTests {
    var fixtures: URL { TestSupport.packageRoot.appendingPathComponent("Tests/LegSegPipelineTests/Fixtures/metrics") }

    func expected(_ name: String) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("expected.json"))) as! [String: Any]
        let cases = object["cases"] as! [[String: Any]]
        return try #require(cases.first { $0["name"] as? String == name })["labels"] as! [[String: Any]]
    }

    @Test func printsATableWithAMeanRow() throws {
        let run = try CLIRun.legseg(["evaluate", "shapes_pred.nii.gz", "shapes_truth.nii.gz"], in: fixtures)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines.first == ["label", "dice", "hd95_mm", "asd_mm", "pred_voxels", "truth_voxels"])
        #expect(lines.dropFirst().map { $0[0] } == ["1", "2", "3", "4", "5", "mean"])
        #expect(lines[1] == ["1", "0.8753", "0.80", "0.29", "361", "361"])
        #expect(lines[3] == ["3", "0.0000", "inf", "inf", "0", "72"])
        // Dice mean over labels 1-5 (3 and 4 count as 0); distance means over 1, 2 and 5.
        let want = try expected("shapes")
        let dice = want.map { $0["dice"] as! Double }.reduce(0, +) / 5
        let hd95 = want.compactMap { $0["hd95"] as? Double }.reduce(0, +) / 3
        #expect(lines[6] == ["mean", String(format: "%.4f", dice), String(format: "%.2f", hd95), lines[6][3]])
    }

    @Test func jsonMatchesScipy() throws {
        let run = try CLIRun.legseg(["evaluate", "--json", "blobs_pred.nii.gz", "blobs_truth.nii.gz"], in: fixtures)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect(object["prediction"] as? String == "blobs_pred.nii.gz")
        let rows = object["labels"] as! [[String: Any]]
        let want = try expected("blobs")
        #expect(rows.map { $0["label"] as! Int } == want.map { $0["label"] as! Int })
        for (got, w) in zip(rows, want) {
            for (key, reference) in [("dice", "dice"), ("hd95_mm", "hd95"), ("asd_mm", "asd")] {
                let a = got[key] as! Double, b = w[reference] as! Double
                #expect(abs(a - b) <= 1e-9 * max(1, b), "label \(w["label"]!) \(key)")
            }
            #expect(got["truth_voxels"] as? Int == w["truth_voxels"] as? Int)
        }
        let mean = object["mean"] as! [String: Any]
        #expect(abs((mean["dice"] as! Double) - want.map { $0["dice"] as! Double }.reduce(0, +) / 3) < 1e-12)
    }

    @Test func csvIsWrittenWithListedLabelsAndNames() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("metrics.csv"), names = dir.appendingPathComponent("names.json")
        try Data(#"{"1": "vastus lateralis, right", "3": "sartorius"}"#.utf8).write(to: names)
        let run = try CLIRun.legseg(["evaluate", "shapes_pred.nii.gz", "shapes_truth.nii.gz", "--labels", "3,1,6-7",
                                     "--names", names.path, "--csv", csv.path], in: fixtures)
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(rows.count == 5)
        #expect(rows[0] == "label,name,dice,hd95_mm,asd_mm,pred_voxels,truth_voxels,overlap_voxels")
        #expect(rows[1].hasPrefix("1,\"vastus lateralis, right\",0.875346260387811"))
        #expect(rows[2] == "3,sartorius,0,inf,inf,0,72,0")
        #expect(rows[3] == "6,,1,0,0,0,0,0" && rows[4] == "7,,1,0,0,0,0,0")
        // The table shows the names column when names are known.
        #expect(run.stdout.split(separator: "\n")[0].hasPrefix("label  name"))
        #expect(run.stdout.contains("vastus lateralis, right"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["metrics.csv", "names.json"])
    }

    @Test func differentGridsGiveOneErrorLine() throws {
        let run = try CLIRun.legseg(["evaluate", "shapes_pred.nii.gz", "permuted_axes_truth.nii.gz"], in: fixtures)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr == "legseg: error: permuted_axes_truth.nii.gz: shape 20x14x16 differs from shapes_pred.nii.gz's 30x26x12; the volumes must be on the same voxel grid\n")
    }

    @Test func sameShapeButDifferentAffineIsRefused() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var v = Volume<UInt8>(shape: [4, 4, 3], repeating: 0, affine: .scaling([1, 1, 2]))
        v[1, 1, 1] = 2
        try NIfTIWriter.write(v, to: dir.appendingPathComponent("a.nii.gz"))
        v.affine = .scaling([1, 1, 2.5])
        try NIfTIWriter.write(v, to: dir.appendingPathComponent("b.nii.gz"))
        let run = try CLIRun.legseg(["evaluate", "a.nii.gz", "b.nii.gz"], in: dir)
        #expect(run.status == 1)
        #expect(run.stderr == "legseg: error: b.nii.gz: affine differs from a.nii.gz's by up to 0.5 mm; the volumes must be on the same voxel grid\n")
    }

    @Test func unreadableOrNonLabelFilesNameTheFile() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var image = Volume<Float>(shape: [3, 3, 3], repeating: 1, affine: .identity)
        image[2, 0, 1] = 0.5
        try NIfTIWriter.write(image, to: dir.appendingPathComponent("probabilities.nii"))
        try NIfTIWriter.write(image.map { _ in UInt8(1) }, to: dir.appendingPathComponent("labels.nii"))
        try Data("not nifti at all".utf8).write(to: dir.appendingPathComponent("junk.nii"))

        let missing = try CLIRun.legseg(["evaluate", "nope.nii.gz", "labels.nii"], in: dir)
        #expect(missing.status == 1)
        #expect(missing.stderr == "legseg: error: nope.nii.gz: no such file\n")

        let notLabels = try CLIRun.legseg(["evaluate", "probabilities.nii", "labels.nii"], in: dir)
        #expect(notLabels.status == 1)
        #expect(notLabels.stderr.hasPrefix("legseg: error: probabilities.nii: not a label map: voxel (2, 0, 1) holds 0.5"))
        #expect(notLabels.stderr.split(separator: "\n").count == 1)

        let junk = try CLIRun.legseg(["evaluate", "labels.nii", "junk.nii"], in: dir)
        #expect(junk.status == 1)
        #expect(junk.stderr.hasPrefix("legseg: error: junk.nii: "))
        #expect(junk.stderr.split(separator: "\n").count == 1)

        let badNames = try CLIRun.legseg(["evaluate", "labels.nii", "labels.nii", "--names", "junk.nii"], in: dir)
        #expect(badNames.status == 1)
        #expect(badNames.stderr == "legseg: error: junk.nii: not a JSON object mapping label ids to names\n")

        // Nothing is written when the inputs are refused.
        let csvRun = try CLIRun.legseg(["evaluate", "probabilities.nii", "labels.nii", "--csv", "out.csv"], in: dir)
        #expect(csvRun.status == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.csv").path))
    }

    @Test func anUnwritableCSVIsAnErrorAndNothingIsPrinted() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("missing/folder/out.csv").path
        let run = try CLIRun.legseg(["evaluate", "shapes_pred.nii.gz", "shapes_truth.nii.gz", "--csv", target], in: fixtures)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("legseg: error: \(target): cannot write"))
        #expect(run.stderr.split(separator: "\n").count == 1)
    }

    @Test func badLabelListIsAUsageError() throws {
        let run = try CLIRun.legseg(["evaluate", "shapes_pred.nii.gz", "shapes_truth.nii.gz", "--labels", "1,5-x"], in: fixtures)
        #expect(run.status == 64)
        #expect(run.stderr.contains("--labels: \"5-x\" is not a label or a range such as 5-8"))
    }
}
