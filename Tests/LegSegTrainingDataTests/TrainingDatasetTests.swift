import Foundation
import Testing
import LegSegIO
import LegSegTestSupport
@testable import LegSegTraining

@Suite struct TrainingDatasetTests {
    func write(_ dir: URL, _ name: String, shape: [Int] = [6, 5, 4], labels: [UInt8] = [0, 61, 62]) throws {
        let image = Volume<Float>(shape: shape, repeating: 1, affine: .identity)
        var lab = Volume<UInt8>(shape: shape, repeating: 0, affine: .identity)
        for (n, l) in labels.enumerated() { lab.voxels[n] = l }
        try NIfTIWriter.write(image, to: dir.appendingPathComponent(name + "_image.nii.gz"))
        try NIfTIWriter.write(lab, to: dir.appendingPathComponent(name + "_labels.nii.gz"))
    }

    @Test func bothLayoutsAreFoundAndChecked() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(dir, "a"); try write(dir, "b")
        let cases = try TrainingDataset.discover(dir)
        #expect(cases.map(\.name) == ["a", "b"])
        #expect(try TrainingDataset.validate(cases, allowedLabels: LabelTables.names(of: .standardized).keys.reduce(into: Set<Int>()) { $0.insert($1) }) == [0, 61, 62])
        let nn = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: nn) }
        for sub in ["imagesTr", "labelsTr"] { try FileManager.default.createDirectory(at: nn.appendingPathComponent(sub), withIntermediateDirectories: true) }
        try FileManager.default.copyItem(at: dir.appendingPathComponent("a_image.nii.gz"), to: nn.appendingPathComponent("imagesTr/leg_001_0000.nii.gz"))
        try FileManager.default.copyItem(at: dir.appendingPathComponent("a_labels.nii.gz"), to: nn.appendingPathComponent("labelsTr/leg_001.nii.gz"))
        #expect(try TrainingDataset.discover(nn).map(\.name) == ["leg_001"])
    }

    @Test func badDataIsRefusedWithOneLineNamingTheFile() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: TrainingDataError.self) { try TrainingDataset.discover(dir) }  // empty
        try write(dir, "odd", labels: [0, 61, 200])
        let cases = try TrainingDataset.discover(dir)
        do { try TrainingDataset.validate(cases, allowedLabels: [61, 62]); Issue.record("accepted") } catch let e as TrainingDataError {
            #expect(e.description.hasSuffix("odd_labels.nii.gz: label values [200] are not in the label table"))
        }
        // Image and labels on different grids.
        try NIfTIWriter.write(Volume<Float>(shape: [6, 5, 3], repeating: 1, affine: .identity), to: dir.appendingPathComponent("odd_image.nii.gz"))
        do { try TrainingDataset.validate(cases, allowedLabels: nil); Issue.record("accepted") } catch let e as TrainingDataError {
            #expect(e.message.contains("differs from its image's"))
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("odd_labels.nii.gz"))
        #expect(throws: TrainingDataError.self) { try TrainingDataset.discover(dir) }  // image without labels
    }

    @Test func itkSnapFilesParseAndTheStandardTableRoundTrips() throws {
        let file = try ITKSnapLabelFile(text: LabelTables.itkSnapDescription(), file: "Muscles_leg.txt")
        #expect(file.indices == Set(LabelTables.names(of: .standardized).keys))
        #expect(file.entries.first { $0.index == 91 }?.normalisedName == "Quadratus_Lumborum_Left")
        #expect(throws: LabelFileError.self) { try ITKSnapLabelFile(text: "1 0 0 0 1 1 1 \"A\"\n1 0 0 0 1 1 1 \"B\"\n", file: "dup.txt") }
        #expect(throws: LabelFileError.self) { try ITKSnapLabelFile(text: "# only comments\n", file: "empty.txt") }
    }
}
