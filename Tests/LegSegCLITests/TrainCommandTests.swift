import Foundation
import Testing
import LegSegIO
import LegSegTestSupport

@Suite(.serialized) struct TrainCommandTests {
    /// A folder of NAME_image/NAME_labels pairs in the standardized table (rectus femoris and femur, left).
    static func data(_ dir: URL, cases: Int = 2, label: UInt8 = 61, shape: [Int] = [24, 24, 6]) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for c in 0..<cases {
            var image = Volume<Float>(shape: shape, repeating: 0, affine: Affine.scaling([1.5, 1.5, 6]))
            var labels = Volume<UInt8>(shape: shape, repeating: 0, affine: image.affine)
            for k in 0..<shape[2] { for j in 0..<shape[1] { for i in 0..<shape[0] {
                image[i, j, k] = 10
                if (4 + c..<12 + c).contains(i) && (4..<12).contains(j) { image[i, j, k] = 100; labels[i, j, k] = label }
                if (15..<20).contains(i) && (14..<19).contains(j) { image[i, j, k] = 2; labels[i, j, k] = 103 }
            } } }
            try NIfTIWriter.write(image, to: dir.appendingPathComponent("leg\(c)_image.nii.gz"))
            try NIfTIWriter.write(labels, to: dir.appendingPathComponent("leg\(c)_labels.nii.gz"))
        }
    }

    let tiny = ["--region", "thigh", "--batches-per-round", "3", "--patch", "4,16,16", "--base", "4", "--depth", "2", "--voxel-size", "native", "--json"]

    @Test func aShortRunWritesCheckpointsAndResumes() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-train-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.data(dir.appendingPathComponent("data"))
        let first = try CLIRun.legseg(["train", "--data", "data", "--out", "ckpt", "--rounds", "2"] + tiny, in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let rounds = first.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(rounds.map { $0["round"] as? Int } == [1, 2])
        #expect((rounds.first?["dice"] as? [Double])?.count == 21)  // N5 classes 1...21
        for file in ["thigh.json", "thigh.safetensors", "thigh.optimizer.safetensors", "thigh.log.csv"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ckpt/" + file).path), "\(file)")
        }
        let resumed = try CLIRun.legseg(["train", "--data", "data", "--out", "ckpt", "--rounds", "3", "--resume"] + tiny, in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.split(separator: "\n").count == 1 && resumed.stdout.contains("\"round\":3"))
        let log = try String(contentsOf: dir.appendingPathComponent("ckpt/thigh.log.csv"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 4)
        // Fine-tuning starts from a model file's weights and architecture; a model of the other table is refused.
        let tuned = try CLIRun.legseg(["train", "--data", "data", "--out", "tuned", "--rounds", "1", "--init", "ckpt/thigh.json"] + tiny, in: dir)
        #expect(tuned.status == 0, "\(tuned.stderr)")
        let manifest = try String(contentsOf: dir.appendingPathComponent("tuned/thigh.json"), encoding: .utf8)
        #expect(manifest.contains("ckpt\\/thigh.json") || manifest.contains("ckpt/thigh.json"))
        let wrong = try CLIRun.legseg(["train", "--network", "lowerleg", "--data", "data", "--out", "x", "--init", "ckpt/thigh.json",
                                       "--voxel-size", "native", "--patch", "4,16,16"], in: dir)
        #expect(wrong.status == 1 && wrong.stderr.contains("are not the lowerleg network's"), "\(wrong.stderr)")
    }

    @Test func badTrainingDataIsRefusedBeforeTrainingStarts() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-train-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        let empty = try CLIRun.legseg(["train", "--data", "empty", "--out", "ckpt"] + tiny, in: dir)
        #expect(empty.status == 1 && empty.stderr.contains("empty: holds no training cases"))
        // Label values missing from the given label table.
        try Self.data(dir.appendingPathComponent("odd"), cases: 1, label: 61)
        try Data("0 0 0 0 0 0 0 \"Clear Label\"\n103 200 200 200 1 1 1 \"Femur Left\"\n".utf8).write(to: dir.appendingPathComponent("table.txt"))
        let odd = try CLIRun.legseg(["train", "--data", "odd", "--labels", "table.txt", "--out", "ckpt"] + tiny, in: dir)
        #expect(odd.status == 1 && odd.stderr.contains("label values [61] are not in the label table"))
        // Image and label maps of different shapes.
        try Self.data(dir.appendingPathComponent("mismatch"), cases: 1)
        try NIfTIWriter.write(Volume<Float>(shape: [24, 24, 5], repeating: 1, affine: Affine.scaling([1.5, 1.5, 6])),
                              to: dir.appendingPathComponent("mismatch/leg0_image.nii.gz"))
        let mismatch = try CLIRun.legseg(["train", "--data", "mismatch", "--out", "ckpt"] + tiny, in: dir)
        #expect(mismatch.status == 1 && mismatch.stderr.contains("differs from its image's"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("ckpt").path))
    }

    /// The slice classifier learns from phantoms: per-round JSON with accuracy per head, a checkpoint that is a
    /// slice-classifier model file, and exact continuation with --resume.
    @Test func classifierTrainsFromPhantomsAndResumes() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-train-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["train", "--network", "classifier", "--phantoms", "1", "--out", "ckpt", "--batches-per-round", "3",
                    "--batch", "8", "--image-size", "32", "--json"]
        let first = try CLIRun.legseg(args + ["--rounds", "2"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let rounds = first.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(rounds.map { $0["round"] as? Int } == [1, 2])
        #expect((rounds.first?["accuracy"] as? [Double])?.count == 2)  // side, position
        let manifest = try String(contentsOf: dir.appendingPathComponent("ckpt/classifier.json"), encoding: .utf8)
        #expect(manifest.contains("\"position\"") && manifest.contains("\"Knee\""))
        let resumed = try CLIRun.legseg(args + ["--rounds", "3", "--resume"], in: dir)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.split(separator: "\n").count == 1 && resumed.stdout.contains("\"round\":3"))
        let data = try CLIRun.legseg(["train", "--network", "classifier", "--data", "x", "--out", "ckpt"], in: dir)
        #expect(data.status != 0 && data.stderr.contains("--phantoms N, not --data"))
    }

    /// A short run on a tiny lower-leg phantom (the phantom data source, at the default 3×3×6 mm training voxel
    /// size) lowers the loss and learns the easiest classes first, the tibia and subcutaneous fat (measured: loss
    /// 14.1 → 9.2; best validation Dice of tibia 0.45 and fat 0.43 — a tiny network's Dice swings from round to
    /// round, so the best round is tested).
    @Test func aShortRunOnAPhantomLowersTheLossAndReachesADiceFloor() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-train-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try CLIRun.legseg(["train", "--network", "lowerleg", "--phantoms", "1", "--out", "ckpt", "--rounds", "6",
                                     "--batches-per-round", "8", "--patch", "8,32,32", "--base", "8", "--depth", "2",
                                     "--learning-rate", "0.01", "--json"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let rounds = run.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(rounds.count == 6)
        let losses = rounds.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 6 && losses.last! < 0.8 * losses.first!, "losses \(losses)")
        let dice = rounds.compactMap { $0["dice"] as? [Double] }
        #expect(dice.count == 6 && dice.allSatisfy { $0.count == 18 })  // N6 classes 1...18; 16 = tibia, 18 = fat
        let bestTibia = dice.map { $0.count == 18 ? $0[15] : 0 }.max() ?? 0, bestFat = dice.map { $0.count == 18 ? $0[17] : 0 }.max() ?? 0
        #expect(bestTibia > 0.25 && bestFat > 0.25, "best Dice: tibia \(bestTibia), fat \(bestFat)")
    }

    /// Semi-supervised fine-tuning: the bundled networks pseudo-label a held-out thigh phantom given without its
    /// labels; the kept pseudo-labels must be more accurate than the teacher's whole segmentation (what confidence
    /// and the checks are for), and the run trains on them. Bad use is refused before anything runs.
    @Test func unlabelledScansArePseudoLabelledAndTrainOn() throws {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-train-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let phantom = try CLIRun.legseg(["phantom", "--out", "p", "--seed", "2026", "--first", "5", "--quiet", "--regions", "thigh",
                                         "--fov-length", "200"], in: dir)
        #expect(phantom.status == 0, "\(phantom.stderr)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("scans"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: dir.appendingPathComponent("p/phantom_0005_image.nii.gz"),
                                         to: dir.appendingPathComponent("scans/leg.nii.gz"))
        try Self.data(dir.appendingPathComponent("data"), cases: 1)
        let args = ["train", "--network", "thigh", "--data", "data", "--unlabelled", "scans", "--out", "ckpt", "--rounds", "1",
                    "--batches-per-round", "1", "--patch", "16,64,64"]
        let run = try CLIRun.legseg(args + ["--init", "bundled", "--pseudo-labels-out", "pseudo"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("scans/leg.nii.gz: ") && run.stderr.contains("thigh slices"), "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ckpt/thigh.safetensors").path))

        let truth = try NIfTIReader.read(dir.appendingPathComponent("p/phantom_0005_labels.nii.gz")).volume.map { Int($0) }
        let pseudo = try NIfTIReader.read(dir.appendingPathComponent("pseudo/leg_pseudolabels.nii.gz")).volume.map { Int($0) }
        let segment = try CLIRun.legseg(["segment", "scans/leg.nii.gz", "-o", "teacher.nii.gz", "--quiet"], in: dir)
        #expect(segment.status == 0, "\(segment.stderr)")
        let teacher = try NIfTIReader.read(dir.appendingPathComponent("teacher.nii.gz")).volume.map { Int($0) }
        #expect(pseudo.shape == truth.shape && pseudo.affine == truth.affine)
        // Agreement with the truth over voxels where either map has a thigh-network structure (or background kept).
        let network = Set(Array(31...52) + Array(55...66) + Array(101...106) + [151])
        func accuracy(_ map: Volume<Int>, skipping unlabelled: Int?) -> (accuracy: Double, voxels: Int) {
            var agree = 0, total = 0
            for n in truth.voxels.indices where truth.voxels[n] != 0 || map.voxels[n] != 0 {
                let t = network.contains(truth.voxels[n]) ? truth.voxels[n] : 0
                if map.voxels[n] == unlabelled { continue }
                if t == 0 && map.voxels[n] == 0 { continue }
                total += 1
                if t == map.voxels[n] { agree += 1 }
            }
            return (Double(agree) / Double(max(total, 1)), total)
        }
        let kept = accuracy(pseudo, skipping: 255), all = accuracy(teacher, skipping: nil)
        #expect(kept.accuracy > all.accuracy + 0.05, "pseudo-labels \(kept), teacher \(all)")
        #expect(Double(kept.voxels) > 0.2 * Double(all.voxels), "pseudo-labels keep \(kept.voxels) of \(all.voxels) voxels")

        let noTeacher = try CLIRun.legseg(args, in: dir)
        #expect(noTeacher.status == 64 && noTeacher.stderr.contains("--unlabelled needs --init"), "\(noTeacher.stderr)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("none"), withIntermediateDirectories: true)
        let empty = try CLIRun.legseg(["train", "--network", "thigh", "--data", "data", "--unlabelled", "none", "--init", "bundled",
                                       "--out", "x", "--patch", "16,64,64"], in: dir)
        #expect(empty.status == 1 && empty.stderr.contains("none: holds no NIfTI scans"), "\(empty.stderr)")

        // A malformed scan after a good one: one error line naming it, and no pseudo-label file of the good one
        // (they are written only once every scan has passed).
        try Data("not a NIfTI file".utf8).write(to: dir.appendingPathComponent("scans/zz_broken.nii"))
        let broken = try CLIRun.legseg(args + ["--init", "bundled", "--pseudo-labels-out", "pseudo2", "--quiet"], in: dir)
        #expect(broken.status != 0 && broken.stderr.contains("zz_broken.nii"), "\(broken.stderr)")
        #expect(broken.stderr.split(separator: "\n").count == 1, "\(broken.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("pseudo2").path))
    }
}
