import Foundation
import Testing
import LegSegIO
import LegSegPipeline

/// Statistics on constructed volumes whose answers follow in closed form.
@Suite struct MuscleStatisticsTests {
    /// 6x5x4 voxels; label 1 fills i 1..<3, j 1..<3, k 0..<2 (8 voxels), label 4 fills k = 3 (30 voxels).
    static func labels(affine: Affine) -> Volume<Int32> {
        var v = Volume<Int32>(shape: [6, 5, 4], repeating: 0, affine: affine)
        for k in 0..<2 { for j in 1..<3 { for i in 1..<3 { v[i, j, k] = 1 } } }
        for j in 0..<5 { for i in 0..<6 { v[i, j, 3] = 4 } }
        return v
    }

    /// Intensity i + 10 j + 100 k.
    static func ramp(affine: Affine) -> Volume<Float> {
        var v = Volume<Float>(shape: [6, 5, 4], repeating: 0, affine: affine)
        for k in 0..<4 { for j in 0..<5 { for i in 0..<6 { v[i, j, k] = Float(i + 10 * j + 100 * k) } } }
        return v
    }

    @Test func countsVolumesMeansAndMedians() throws {
        let affine = Affine.scaling([2, 1.5, 3])  // 9 mm³ per voxel
        let stats = try MuscleStatistics.compute(labels: Self.labels(affine: affine), image: Self.ramp(affine: affine))
        #expect(stats.voxelVolumeMM3 == 9)
        #expect(stats.labels.map(\.label) == [1, 4])
        let one = stats.labels[0], four = stats.labels[1]
        #expect(one.voxelCount == 8 && four.voxelCount == 30)
        #expect(abs(one.volumeML - 0.072) < 1e-12 && abs(four.volumeML - 0.27) < 1e-12)
        // Label 1: mean i = 1.5, mean j = 1.5, mean k = 0.5; values {11,12,21,22,111,112,121,122}.
        #expect(one.meanIntensity == 1.5 + 15 + 50)
        #expect(one.medianIntensity == (22.0 + 111) / 2)
        // Label 4: mean i = 2.5, mean j = 2, k = 3; 30 values, the middle two are 322 and 323... of the sorted
        // ramp 300 + i + 10 j: ranks 14 and 15 are 322 and 323.
        #expect(four.meanIntensity == 2.5 + 20 + 300)
        #expect(four.medianIntensity == 322.5)
        #expect(one.meanFatFraction == nil && one.fatFractionVoxels == 0)
    }

    @Test func voxelVolumeComesFromTheAffineDeterminant() throws {
        // A rotated, sheared grid: |det| = 1.2 * 0.8 * 2.5 regardless of the rotation, 3 for the shear's volume.
        let (c, s) = (cos(0.3), sin(0.3))
        let rotated = Affine(rows: [[1.2 * c, -0.8 * s, 0, 5], [1.2 * s, 0.8 * c, 0, -3], [0, 0, -2.5, 7], [0, 0, 0, 1]])
        let stats = try MuscleStatistics.compute(labels: Self.labels(affine: rotated))
        #expect(abs(stats.voxelVolumeMM3 - 2.4) < 1e-12)
        #expect(abs(stats.labels[0].volumeML - 8 * 2.4 / 1000) < 1e-15)
        #expect(stats.labels[0].meanIntensity == nil && stats.labels[0].medianIntensity == nil)
    }

    @Test func fatFractionSkipsVoxelsWithoutSignal() throws {
        let affine = Affine.identity
        let labels = Self.labels(affine: affine)
        var water = Volume<Float>(shape: [6, 5, 4], repeating: 3, affine: affine)
        var fat = Volume<Float>(shape: [6, 5, 4], repeating: 1, affine: affine)
        // In label 1: two voxels with no signal (skipped), two with fat only (fraction 1), four at 1/4.
        water[1, 1, 0] = 0; fat[1, 1, 0] = 0
        water[2, 1, 0] = -2; fat[2, 1, 0] = 1
        water[1, 2, 0] = 0; fat[1, 2, 0] = 5
        water[2, 2, 0] = 0; fat[2, 2, 0] = 2
        let stats = try MuscleStatistics.compute(labels: labels, water: water, fat: fat)
        #expect(stats.labels[0].fatFractionVoxels == 6)
        #expect(abs(stats.labels[0].meanFatFraction! - (2 * 1 + 4 * 0.25) / 6) < 1e-12)
        #expect(stats.labels[1].meanFatFraction == 0.25 && stats.labels[1].fatFractionVoxels == 30)
    }

    @Test func selectedLabelsIncludeAbsentOnes() throws {
        let stats = try MuscleStatistics.compute(labels: Self.labels(affine: .identity), image: Self.ramp(affine: .identity), selecting: [9, 4, 0])
        #expect(stats.labels.map(\.label) == [4, 9])
        #expect(stats.labels[1].voxelCount == 0 && stats.labels[1].volumeML == 0 && stats.labels[1].meanIntensity == nil)
    }

    @Test func csvAndJSONCarryIdsNamesAndValues() throws {
        let affine = Affine.scaling([2, 1.5, 3])
        let stats = try MuscleStatistics.compute(labels: Self.labels(affine: affine), image: Self.ramp(affine: affine), selecting: [1, 4, 5])
        let names = [1: "rectus femoris, right", 4: "gracilis \"L\""]
        #expect(stats.csv(names: names) == """
            label,name,voxels,volume_ml,mean_intensity,median_intensity,mean_fat_fraction,fat_fraction_voxels
            1,"rectus femoris, right",8,0.072,66.5,66.5,,0
            4,"gracilis ""L\"\"\",30,0.27,322.5,322.5,,0
            5,,0,0,,,,0

            """)
        let object = try JSONSerialization.jsonObject(with: Data(stats.json(names: names).utf8)) as! [String: Any]
        #expect(object["voxel_volume_mm3"] as? Double == 9)
        let rows = object["labels"] as! [[String: Any]]
        #expect(rows.map { $0["label"] as? Int } == [1, 4, 5])
        #expect(rows[0]["name"] as? String == "rectus femoris, right")
        #expect(rows[2]["name"] is NSNull && rows[2]["mean_intensity"] is NSNull)
        #expect(rows[1]["median_intensity"] as? Double == 322.5)
    }

    @Test func imagesOffTheLabelGridAreRefused() throws {
        let labels = Self.labels(affine: .identity)
        let shifted = Self.ramp(affine: Affine.identity.translatedIndex(by: [1, 0, 0]))
        do {
            _ = try MuscleStatistics.compute(labels: labels, labelsFile: "seg.nii.gz", image: shifted, imageFile: "out.nii.gz")
            Issue.record("expected an error")
        } catch let error as LabelVolumeError {
            #expect(error.description == "out.nii.gz: affine differs from seg.nii.gz's by up to 1 mm; the volumes must be on the same voxel grid")
        }
        #expect(throws: LabelVolumeError.self) {
            try MuscleStatistics.compute(labels: labels, water: Self.ramp(affine: .identity))
        }
    }
}
