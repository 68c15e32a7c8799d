import Foundation
import LegSegIO

/// Measurements of one label (muscle) of a label map.
public struct LabelStatistics: Equatable, Sendable {
    public let label: Int
    public let voxelCount: Int
    /// Voxel count times the voxel volume (|determinant| of the affine), in millilitres.
    public let volumeML: Double
    /// Mean and median of the intensity image over the label's voxels; nil without an image or voxels. The
    /// median of an even count is the mean of the two middle values.
    public let meanIntensity: Double?
    public let medianIntensity: Double?
    /// Mean over the label's voxels of fat / (water + fat), not clamped; voxels where water + fat ≤ 0 (no
    /// signal) are skipped. Nil without water and fat images or when every voxel was skipped.
    public let meanFatFraction: Double?
    /// How many voxels entered `meanFatFraction`.
    public let fatFractionVoxels: Int
}

/// Per-label statistics over a label map and intensity images on the same grid.
public struct MuscleStatistics: Equatable, Sendable {
    /// In increasing label order.
    public let labels: [LabelStatistics]
    public let voxelVolumeMM3: Double

    /// Measures every label other than 0 present in `labels`, or exactly those in `selecting` (absent ones with
    /// zero voxels). `image` gives mean/median intensity; `water` and `fat` (both or neither) give the fat
    /// fraction. Every image must lie on the label map's grid; errors name the file (`*File` arguments).
    public static func compute(labels: Volume<Int32>, labelsFile: String = "labels",
                               image: Volume<Float>? = nil, imageFile: String = "image",
                               water: Volume<Float>? = nil, waterFile: String = "water",
                               fat: Volume<Float>? = nil, fatFile: String = "fat",
                               selecting: [Int]? = nil) throws -> MuscleStatistics {
        try LabelVolume.checkLabels(labels, file: labelsFile)
        if let image { try LabelVolume.checkSameGrid(labels, file: labelsFile, image, otherFile: imageFile) }
        if let water { try LabelVolume.checkSameGrid(labels, file: labelsFile, water, otherFile: waterFile) }
        if let fat { try LabelVolume.checkSameGrid(labels, file: labelsFile, fat, otherFile: fatFile) }
        if (water == nil) != (fat == nil) {
            throw LabelVolumeError(file: water == nil ? fatFile : waterFile, message: "the fat fraction needs both a water and a fat image")
        }

        let largest = Int(labels.voxels.max() ?? 0)
        var counts = [Int](repeating: 0, count: largest + 1)
        var sums = [Double](repeating: 0, count: largest + 1)
        var fractionSums = sums
        var fractionCounts = counts
        for n in 0..<labels.count {
            let label = Int(labels.voxels[n])
            counts[label] += 1
            if let image { sums[label] += Double(image.voxels[n]) }
            if let water, let fat {
                let w = Double(water.voxels[n]), f = Double(fat.voxels[n])
                if w + f > 0 {
                    fractionSums[label] += f / (w + f)
                    fractionCounts[label] += 1
                }
            }
        }
        let wanted = Array(Set((selecting ?? (0...largest).filter { counts[$0] > 0 }).filter { $0 > 0 })).sorted()

        // Medians need each label's values; gather only the labels asked for, sized exactly.
        var medians: [Int: Double] = [:]
        if let image {
            var slot = [Int](repeating: -1, count: largest + 1)
            var values: [[Float]] = []
            for label in wanted where label <= largest && counts[label] > 0 {
                slot[label] = values.count
                values.append([])
                values[values.count - 1].reserveCapacity(counts[label])
            }
            for n in 0..<labels.count {
                let s = slot[Int(labels.voxels[n])]
                if s >= 0 { values[s].append(image.voxels[n]) }
            }
            for label in wanted where label <= largest && slot[label] >= 0 {
                medians[label] = median(&values[slot[label]])
            }
        }

        let voxelVolume = labels.voxelVolumeMM3
        let stats = wanted.map { label -> LabelStatistics in
            let count = label <= largest ? counts[label] : 0
            let fractionCount = label <= largest ? fractionCounts[label] : 0
            return LabelStatistics(
                label: label, voxelCount: count, volumeML: Double(count) * voxelVolume / 1000,
                meanIntensity: image != nil && count > 0 ? sums[label] / Double(count) : nil,
                medianIntensity: medians[label],
                meanFatFraction: fractionCount > 0 ? fractionSums[label] / Double(fractionCount) : nil,
                fatFractionVoxels: fractionCount)
        }
        return MuscleStatistics(labels: stats, voxelVolumeMM3: voxelVolume)
    }

    static func median(_ values: inout [Float]) -> Double {
        values.sort()
        let m = values.count / 2
        return values.count % 2 == 1 ? Double(values[m]) : (Double(values[m - 1]) + Double(values[m])) / 2
    }

    // MARK: - Reports

    public static let csvHeader = ["label", "name", "voxels", "volume_ml", "mean_intensity", "median_intensity",
                                   "mean_fat_fraction", "fat_fraction_voxels"]

    /// One row per label; values that were not measured are empty fields.
    public func csv(names: [Int: String] = [:]) -> String {
        ReportEncoding.csv(header: Self.csvHeader, rows: labels.map { s in
            [String(s.label), names[s.label] ?? "", String(s.voxelCount), ReportEncoding.csvNumber(s.volumeML),
             ReportEncoding.csvNumber(s.meanIntensity), ReportEncoding.csvNumber(s.medianIntensity),
             ReportEncoding.csvNumber(s.meanFatFraction), String(s.fatFractionVoxels)]
        })
    }

    /// The statistics as JSON (one line unless `pretty`); values that were not measured are `null`.
    public func json(names: [Int: String] = [:], pretty: Bool = false) -> String {
        ReportEncoding.json([
            "voxel_volume_mm3": voxelVolumeMM3,
            "labels": labels.map { s -> [String: Any] in
                [
                    "label": s.label,
                    "name": names[s.label].map { $0 as Any } ?? NSNull(),
                    "voxels": s.voxelCount,
                    "volume_ml": s.volumeML,
                    "mean_intensity": ReportEncoding.jsonNumber(s.meanIntensity),
                    "median_intensity": ReportEncoding.jsonNumber(s.medianIntensity),
                    "mean_fat_fraction": ReportEncoding.jsonNumber(s.meanFatFraction),
                    "fat_fraction_voxels": s.fatFractionVoxels,
                ]
            },
        ] as [String: Any], pretty: pretty)
    }
}
