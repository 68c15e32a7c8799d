import Foundation
import Testing
import LegSegTestSupport
@testable import LegSegIO

@Suite struct NIfTIWriterTests {
    /// Geometry fields that must survive a write with a template, bit for bit (NIfTI-1 stores float32, which
    /// LegSeg keeps exactly in Double).
    func expectSameGeometry(_ a: NIfTIHeader, _ b: NIfTIHeader) {
        #expect(a.qformCode == b.qformCode)
        #expect(a.sformCode == b.sformCode)
        #expect(a.srowX == b.srowX && a.srowY == b.srowY && a.srowZ == b.srowZ)
        #expect(a.quaternB == b.quaternB && a.quaternC == b.quaternC && a.quaternD == b.quaternD)
        #expect(a.qoffsetX == b.qoffsetX && a.qoffsetY == b.qoffsetY && a.qoffsetZ == b.qoffsetZ)
        #expect(Array(a.pixdim.prefix(4)) == Array(b.pixdim.prefix(4)))
        #expect(a.xyztUnits == b.xyztUnits)
        #expect(a.dimInfo == b.dimInfo)
        #expect(a.shape3 == b.shape3)
    }

    @Test(arguments: ["qform_only_oblique.nii", "sform_only_lps.nii", "sform_beats_qform.nii", "oblique_int16_gz.nii.gz",
                      "bigendian_float32.nii", "fourd_float32.nii.gz", "dtype_uint8.nii"])
    func labelMapCarriesTheSourceGeometryExactly(source: String) throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent(source))
        // Labels derived from the image, and the image itself as float32.
        let labels = image.volume.map { UInt8(clamping: Int(abs($0)) % 200) }
        let labels16 = image.volume.map { Int16(clamping: Int($0) % 3000) }
        for (url, check): (URL, (NIfTIImage) -> Void) in [
            (dir.appendingPathComponent("labels.nii.gz"), { #expect($0.volume.voxels == labels.voxels.map(Float.init)); #expect($0.header.datatype == .uint8) }),
            (dir.appendingPathComponent("labels16.nii"), { #expect($0.volume.voxels == labels16.voxels.map(Float.init)); #expect($0.header.datatype == .int16) }),
            (dir.appendingPathComponent("image.nii.gz"), { #expect($0.volume.voxels == image.volume.voxels); #expect($0.header.datatype == .float32) }),
        ] {
            switch url.lastPathComponent {
            case "labels.nii.gz": try NIfTIWriter.write(labels, to: url, like: image.header)
            case "labels16.nii": try NIfTIWriter.write(labels16, to: url, like: image.header)
            default: try NIfTIWriter.write(image.volume, to: url, like: image.header)
            }
            let back = try NIfTIReader.read(url)
            expectSameGeometry(back.header, image.header)
            #expect(back.volume.affine.maxAbsDifference(image.volume.affine) == 0)
            #expect(back.affineSource == image.affineSource)
            #expect(back.header.volumeCount == 1)
            check(back)
        }
    }

    @Test func writingWithoutATemplateKeepsTheAffineInBothQformAndSform() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for source in ["qform_only_oblique.nii", "sform_only_lps.nii", "dtype_float32.nii"] {
            let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent(source))
            let url = dir.appendingPathComponent("plain.nii")
            try NIfTIWriter.write(image.volume, to: url)
            let back = try NIfTIReader.read(url)
            #expect(back.header.sformCode == 1 && back.header.qformCode == 1)
            // float32 storage of the sform; the qform (quaternion + pixdim + qfac) must describe the same grid.
            #expect(back.volume.affine.maxAbsDifference(image.volume.affine) < 1e-4)
            #expect(back.header.qformAffine.maxAbsDifference(image.volume.affine) < 1e-4, "\(source): qform \(back.header.qformAffine)")
            #expect(back.volume.voxels == image.volume.voxels)
        }
    }

    @Test func aMismatchedTemplateIsRefusedAndNothingIsWritten() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent("dtype_int16.nii"))
        let cropped = image.volume.cropped(to: VoxelBox(lower: [1, 0, 0], upper: [5, 4, 3]))
        let url = dir.appendingPathComponent("out.nii.gz")
        #expect(throws: NIfTIError.self) { try NIfTIWriter.write(cropped, to: url, like: image.header) }
        var moved = image.volume
        moved.affine[0, 3] += 1
        #expect(throws: NIfTIError.self) { try NIfTIWriter.write(moved, to: url, like: image.header) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func aFailedWriteLeavesNoFileBehind() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let volume = Volume<UInt8>(shape: [3, 3, 3], repeating: 1, affine: .identity)
        let missing = dir.appendingPathComponent("no/such/folder/labels.nii.gz")
        do { try NIfTIWriter.write(volume, to: missing); Issue.record("write into a missing folder succeeded") } catch let e as NIfTIError {
            #expect(e.kind == .cannotWrite)
            #expect(e.description.hasPrefix(missing.path))
        }
        // Replacing an existing file is atomic: the old content stays until the new file is complete.
        let target = dir.appendingPathComponent("labels.nii")
        try NIfTIWriter.write(volume, to: target)
        let before = try Data(contentsOf: target)
        let tooBig = Volume<UInt8>(shape: [40000, 1, 1], repeating: 0, affine: .identity)  // refused by NIfTI-1
        #expect(throws: NIfTIError.self) { try NIfTIWriter.write(tooBig, to: target) }
        #expect(try Data(contentsOf: target) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["labels.nii"])
    }

    @Test func quaternionRoundTripForEveryAxisPermutationAndFlip() {
        // setGeometry → qformAffine must reproduce any orthogonal affine, including left-handed ones (qfac = -1).
        for (permutation, signs) in OrientationTests.allSignedPermutations {
            var rows = [[Double]](repeating: [0, 0, 0, 0], count: 3)
            let spacing = [0.8, 1.7, 5.5]
            for a in 0..<3 { rows[permutation[a]][a] = Double(signs[a]) * spacing[a] }
            rows[0][3] = 12; rows[1][3] = -7; rows[2][3] = 3.25
            let affine = Affine(rows: rows + [[0, 0, 0, 1]])
            var h = NIfTIHeader()
            h.setGeometry(from: affine)
            #expect(h.qformAffine.maxAbsDifference(affine) < 1e-9, "\(permutation) \(signs)")
        }
    }
}
