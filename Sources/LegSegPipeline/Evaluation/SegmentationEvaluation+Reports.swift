import Foundation

extension SegmentationEvaluation {
    /// Column names of `csv(names:)`.
    public static let csvHeader = ["label", "name", "dice", "hd95_mm", "asd_mm", "pred_voxels", "truth_voxels", "overlap_voxels"]

    /// One row per label (no mean row, so every row is a label); infinite distances are written `inf`.
    public func csv(names: [Int: String] = [:]) -> String {
        ReportEncoding.csv(header: Self.csvHeader, rows: labels.map { m in
            [String(m.label), names[m.label] ?? "", ReportEncoding.csvNumber(m.dice),
             ReportEncoding.csvNumber(m.hausdorff95MM), ReportEncoding.csvNumber(m.averageSurfaceDistanceMM),
             String(m.predictedVoxels), String(m.referenceVoxels), String(m.overlapVoxels)]
        })
    }

    /// The per-label metrics and their means as JSON (one line unless `pretty`); infinite distances and missing means are `null`.
    public func json(names: [Int: String] = [:], predictedFile: String? = nil, referenceFile: String? = nil,
                     pretty: Bool = false) -> String {
        var object: [String: Any] = [
            "labels": labels.map { m -> [String: Any] in
                [
                    "label": m.label,
                    "name": names[m.label].map { $0 as Any } ?? NSNull(),
                    "dice": m.dice,
                    "hd95_mm": ReportEncoding.jsonNumber(m.hausdorff95MM),
                    "asd_mm": ReportEncoding.jsonNumber(m.averageSurfaceDistanceMM),
                    "pred_voxels": m.predictedVoxels,
                    "truth_voxels": m.referenceVoxels,
                    "overlap_voxels": m.overlapVoxels,
                    "presence": m.presence.rawValue,
                ]
            },
            "mean": [
                "dice": ReportEncoding.jsonNumber(meanDice),
                "hd95_mm": ReportEncoding.jsonNumber(meanHausdorff95MM),
                "asd_mm": ReportEncoding.jsonNumber(meanAverageSurfaceDistanceMM),
            ],
        ]
        if let predictedFile { object["prediction"] = predictedFile }
        if let referenceFile { object["truth"] = referenceFile }
        return ReportEncoding.json(object, pretty: pretty)
    }
}
