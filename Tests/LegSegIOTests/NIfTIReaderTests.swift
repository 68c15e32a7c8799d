import Foundation
import Testing
@testable import LegSegIO

/// LegSeg's reader against what nibabel read from the same files (see Fixtures/make_fixtures.py).
@Suite struct NIfTIReaderTests {
    /// Affines from nibabel are float64 computed from the header's float32 fields; LegSeg computes them in
    /// double from the same float32 fields, so they agree to rounding of the quaternion arithmetic.
    static let affineTolerance = 1e-5

    @Test(arguments: Fixtures.validNames)
    func matchesNibabel(name: String) throws {
        let record = try Fixtures.record(name)
        let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent(record.file))
        #expect(image.volume.shape == record.shape)
        #expect(image.header.volumeCount == record.volumes)
        #expect(image.header.version.rawValue == record.nifti_version)
        #expect(image.header.byteOrder.rawValue == record.byte_order)
        #expect(image.header.datatype?.name == record.datatype)
        #expect(image.header.qformCode == record.qform_code)
        #expect(image.header.sformCode == record.sform_code)
        let expected = Affine(rows: record.affine)
        #expect(image.volume.affine.maxAbsDifference(expected) < Self.affineTolerance, "affine \(image.volume.affine) vs nibabel \(expected)")
        #expect(image.volume.orientation?.code == record.orientation)
        // Voxel values: float32 output of values nibabel holds in float64.
        let sum = image.volume.voxels.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - record.sum) <= 1e-5 * max(1, record.voxelMagnitude * Double(image.volume.count)), "sum \(sum) vs \(record.sum)")
        for probe in record.probes {
            let v = Double(image.volume[probe.index[0], probe.index[1], probe.index[2]])
            #expect(abs(v - probe.value) <= 1e-6 * max(1, abs(probe.value)), "voxel \(probe.index): \(v) vs \(probe.value)")
        }
        #expect(image.warnings.contains { $0.contains("NaN") } == (record.non_finite > 0))
        if record.non_finite > 0 {
            #expect(image.warnings.first { $0.contains("NaN") }!.hasPrefix("\(record.non_finite) voxels"))
        }
        if let secondSum = record.second_volume_sum {
            let second = try NIfTIReader.read(Fixtures.valid.appendingPathComponent(record.file), volume: 1)
            let s = second.volume.voxels.reduce(0.0) { $0 + Double($1) }
            #expect(abs(s - secondSum) <= 1e-3 * max(1, abs(secondSum)))
            #expect(second.volumeIndex == 1)
        }
    }

    @Test func spacingFollowsTheAffineAndMatchesPixdimForOrthogonalGrids() throws {
        let record = try Fixtures.record("sform_only_lps")
        let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent(record.file))
        for a in 0..<3 { #expect(abs(image.volume.spacing[a] - record.zooms[a]) < 1e-5) }
    }

    @Test func sformWinsOverQformAndTheDisagreementIsReported() throws {
        let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent("sform_beats_qform.nii"))
        #expect(image.affineSource == .sform)
        #expect(image.warnings.contains { $0.contains("qform and sform disagree") })
    }

    @Test func qformOnlyUsesTheQuaternion() throws {
        let image = try NIfTIReader.read(Fixtures.valid.appendingPathComponent("qform_only_oblique.nii"))
        #expect(image.affineSource == .qform)
    }

    @Test func noCodesFallsBackToPixdimScalingAsTheStandardSays() throws {
        var data = try Data(contentsOf: Fixtures.valid.appendingPathComponent("dtype_int16.nii"))
        data.replaceSubrange(252..<256, with: [0, 0, 0, 0])  // qform_code = sform_code = 0
        let image = try NIfTIReader.read(data: data, file: "nocodes.nii")
        #expect(image.affineSource == .pixdim)
        #expect(image.volume.affine == Affine.scaling([1.5, 1.5, 6.0]))
    }

    @Test func volumeOutOfRangeIsAnError() throws {
        let url = Fixtures.valid.appendingPathComponent("fourd_float32.nii.gz")
        #expect(throws: NIfTIError.self) { try NIfTIReader.read(url, volume: 3) }
        do { _ = try NIfTIReader.read(url, volume: 3) } catch let e as NIfTIError {
            #expect(e.kind == .volumeOutOfRange)
            #expect(e.description.contains("3 volumes"))
        }
    }

    @Test(arguments: try! Fixtures.brokenCases())
    func brokenFileGivesOneClearError(file: String, kind: String) throws {
        let url = Fixtures.broken.appendingPathComponent(file)
        do {
            _ = try NIfTIReader.read(url)
            Issue.record("\(file) was accepted")
        } catch let error as NIfTIError {
            #expect(error.kind.rawValue == kind, "\(file): \(error.description)")
            #expect(error.description.hasPrefix(url.relativePath + ": "))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func missingFileIsUnreadable() {
        do { _ = try NIfTIReader.read(URL(fileURLWithPath: "/nonexistent/scan.nii.gz")) } catch let e as NIfTIError {
            #expect(e.kind == .unreadable)
            #expect(e.description == "/nonexistent/scan.nii.gz: no such file")
        } catch { Issue.record("unexpected \(error)") }
    }
}

extension Fixtures.Record {
    var voxelMagnitude: Double { probes.map { abs($0.value) }.max() ?? 1 }
}
