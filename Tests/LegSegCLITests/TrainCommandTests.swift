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

    let tiny = ["--region", "thigh", "--batches-per-round", "3", "--patch", "4,16,16", "--base", "4", "--depth", "2", "--json"]

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
}
