import Foundation
import Testing
import LegSegEngine
import LegSegIO
import LegSegTestSupport

/// `legseg segment` end to end with a tiny random-weight thigh network written as a real model file: checks the
/// outputs, their geometry, errors and batch behaviour (segmentation quality needs trained networks).
@Suite(.serialized) struct SegmentCommandTests {
    /// A temporary folder with `models/thigh.json` and a two-leg scan `scan.nii.gz` (RAS, like QMRITools data).
    static func workspace() throws -> URL {
        let dir = try TestSupport.makeTemporaryDirectory("legseg-segment")
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let config = UNetConfiguration(classes: LabelTables.thighNetwork.count, depth: 2, baseFeatures: 4, downsampling: [[1, 2, 2]], dropout: 0)
        var state: UInt64 = 5
        var weights: [String: HostTensor] = [:]
        for spec in config.parameterSpecs() {
            let data: [Float] = (0..<spec.shape.reduce(1, *)).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let u = Float(state >> 40) / Float(1 << 24)
                return spec.name.hasSuffix("running_var") ? 1 : (spec.name.hasSuffix("running_mean") ? 0 : u - 0.5)
            }
            weights[spec.name] = try HostTensor(shape: spec.shape, data: data)
        }
        let manifest = ModelManifest(
            name: "thigh", description: "random test network", architecture: .unet(config),
            input: InputSpec(normalization: InputNormalization(rule: "uniform", bins: 256), patchSize: [4, 32, 32], voxelSizeMM: [6, 1.5, 1.5]),
            classes: LabelTables.thighNetwork.enumerated().map { ClassLabel(name: $0.element, label: $0.offset) },
            provenance: ["script": "SegmentCommandTests"], weights: WeightsReference(file: "thigh.safetensors", sha256: "", dtype: .f32))
        _ = try ModelFile.write(manifest: manifest, weights: weights, to: models)
        // Two cylinders, RAS affine with the scanner origin between them.
        let shape = [48, 32, 5]
        var image = Volume<Float>(shape: shape, repeating: 0, affine: Affine(rows: [[1.5, 0, 0, -35.25], [0, 1.5, 0, -24], [0, 0, 6, 0], [0, 0, 0, 1]]))
        for k in 0..<shape[2] { for j in 0..<shape[1] { for i in 0..<shape[0] {
            for ci in [12.0, 35.0] where (Double(i) - ci) * (Double(i) - ci) + (Double(j) - 16) * (Double(j) - 16) < 64 {
                image[i, j, k] = 100 + Float((i * 7 + j * 3) % 11)
            }
        } } }
        try NIfTIWriter.write(image, to: dir.appendingPathComponent("scan.nii.gz"))
        return dir
    }

    @Test func writesLabelsOnTheInputGridWithDescriptionsStatisticsAndQC() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        // No context margin: this random network's labels then fall on both legs (the margin is tested with the
        // bundled networks).
        let run = try CLIRun.legseg(["segment", "scan.nii.gz", "--models", "models", "--region", "thigh", "--json", "--context-mm", "0"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        #expect(summary["legs"] as? [String] == ["right", "left"])
        #expect(summary["labels"] as? String == "scan_labels.nii.gz")
        let input = try NIfTIReader.read(dir.appendingPathComponent("scan.nii.gz"))
        let labels = try NIfTIReader.read(dir.appendingPathComponent("scan_labels.nii.gz"))
        #expect(labels.volume.shape == input.volume.shape)
        #expect(labels.header.srowX == input.header.srowX && labels.header.quaternB == input.header.quaternB)
        #expect(labels.header.sformCode == input.header.sformCode && labels.header.qformCode == input.header.qformCode)
        #expect(labels.header.datatype == .uint8)
        // Every label is in the standardized table, inside the body, and sided by world position.
        let names = LabelTables.names(of: .standardized)
        var sided = 0
        for (n, l) in labels.volume.voxels.enumerated() where l != 0 {
            #expect(names[Int(l)] != nil)
            guard l != 151 else { continue }
            let i = n % 48, x = 1.5 * Double(i) - 35.25  // RAS world x: + is the subject's right
            let isLeft = Int(l) % 2 == 1
            #expect(isLeft ? x < 0 : x > 0, "label \(l) at x = \(x)")
            sided += 1
        }
        #expect(sided > 0)
        let txt = try String(contentsOf: dir.appendingPathComponent("scan_labels.txt"), encoding: .utf8)
        #expect(txt.contains("61 255 105 180 1 1 1 \"Rectus femoris Left\""))
        #expect(!txt.contains("\"89"))  // the original's stale numbers in descriptions are gone
        let csv = try String(contentsOf: dir.appendingPathComponent("scan_stats.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("label,name,voxels,volume_ml"))
        let png = try Data(contentsOf: dir.appendingPathComponent("scan_qc.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("scan_stats.json").path))
    }

    @Test func upToDateOutputsAreSkippedUnlessForcedAndShardsSplitTheInputs() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: dir.appendingPathComponent("scan.nii.gz"), to: dir.appendingPathComponent("second.nii.gz"))
        let first = try CLIRun.legseg(["segment", ".", "--models", "models", "--region", "thigh", "--shard", "1/2"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: dir.appendingPathComponent("scan_labels.nii.gz").path))
        #expect(!fm.fileExists(atPath: dir.appendingPathComponent("second_labels.nii.gz").path))  // the other shard's
        let again = try CLIRun.legseg(["segment", "scan.nii.gz", "--models", "models", "--region", "thigh"], in: dir)
        #expect(again.stderr.contains("skipped"))
        let forced = try CLIRun.legseg(["segment", "scan.nii.gz", "--models", "models", "--region", "thigh", "--force"], in: dir)
        #expect(!forced.stderr.contains("skipped") && forced.status == 0)
    }

    @Test func errorsAreOneLineAndLeaveNoOutputs() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("not nifti".utf8).write(to: dir.appendingPathComponent("bad.nii"))
        let bad = try CLIRun.legseg(["segment", "bad.nii", "--models", "models", "--region", "thigh"], in: dir)
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("legseg: error: bad.nii: not a NIfTI file"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad_labels.nii.gz").path))
        let gpu = try CLIRun.legseg(["segment", "scan.nii.gz", "--models", "models", "--device", "gpu"], in: dir)
        #expect(gpu.status == 1 && gpu.stderr.contains("no GPU backend"))
        let noClassifier = try CLIRun.legseg(["segment", "scan.nii.gz", "--models", "models"], in: dir)
        #expect(noClassifier.status == 1 && noClassifier.stderr.contains("--region thigh or --region lowerleg"))
        let noModels = try CLIRun.legseg(["segment", "scan.nii.gz", "--models", "nowhere", "--region", "thigh"], in: dir)
        #expect(noModels.status == 1 && noModels.stderr.contains("nowhere"))
        let contents = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!contents.contains { $0.hasPrefix("scan_") || $0.hasPrefix(".") })
    }
}
