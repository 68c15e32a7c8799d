import ArgumentParser
import Foundation
import LegSegIO
import LegSegPipeline

/// `legseg evaluate PRED TRUTH`: Dice, HD95 and average surface distance per label between two label maps.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Compare a predicted label map with a reference: Dice, HD95 and average surface distance per label.",
        discussion: """
        Both files must be label maps on the same voxel grid (same shape and affine). Distances are in millimetres \
        with the voxel spacing of the affine, between 6-connected surfaces. HD95 is the larger of the two directed \
        95th percentiles; ASD is the mean of both directions' distances. A label in only one file has Dice 0 and \
        infinite distances (inf in text and CSV, null in JSON); a label in neither (only when listed with --labels) \
        has Dice 1 and distances 0 and is left out of the means. The Dice mean is over labels in either file; the \
        distance means over labels in both.
        """)

    @Argument(help: "Predicted label map (.nii or .nii.gz).", completion: .file(extensions: ["nii", "gz"]))
    var prediction: String

    @Argument(help: "Reference (ground-truth) label map on the same grid.", completion: .file(extensions: ["nii", "gz"]))
    var truth: String

    @Option(help: "Labels to evaluate, e.g. 1,2,5-8 (default: every label other than 0 in either file).")
    var labels: String?

    @Option(help: "JSON file mapping label ids to names, e.g. {\"1\": \"rectus femoris right\"}, or 'standardized' for LegSeg's left/right table.",
            completion: .file(extensions: ["json"]))
    var names: String?

    @Flag(help: "Print the results as one JSON object instead of a table.")
    var json = false

    @Option(help: "Also write the per-label results to this CSV file.", completion: .file(extensions: ["csv"]))
    var csv: String?

    func validate() throws {
        if let labels { _ = try LabelList.parse(labels) }
    }

    func run() throws {
        do {
            let selected = try labels.map(LabelList.parse)
            let labelNames = try names.map(LabelNames.read) ?? [:]
            let predicted = try Self.readLabels(prediction)
            let reference = try Self.readLabels(truth)
            let result = try SegmentationMetrics.evaluate(predicted: predicted, reference: reference, labels: selected,
                                                          predictedFile: prediction, referenceFile: truth)
            if let csv {
                try AtomicFile.write(Data(result.csv(names: labelNames).utf8), to: URL(fileURLWithPath: csv))
            }
            if json {
                print(result.json(names: labelNames, predictedFile: prediction, referenceFile: truth), terminator: "")
            } else {
                print(EvaluationTable(result: result, names: labelNames).text, terminator: "")
            }
        } catch let error as any LegSegError {
            Terminal.error(error)
            throw ExitCode(ExitCodes.badInput)
        }
    }

    static func readLabels(_ path: String) throws -> Volume<Int32> {
        let image = try NIfTIReader.read(URL(fileURLWithPath: path))
        for warning in image.warnings { Terminal.warn("\(path): \(warning)") }
        return try LabelVolume.labels(from: image.volume, file: path)
    }
}

/// The text table of `legseg evaluate`: one row per label and a mean row, columns aligned.
struct EvaluationTable {
    let result: SegmentationEvaluation
    let names: [Int: String]

    var text: String {
        let showNames = result.labels.contains { names[$0.label] != nil }
        var header = ["label"] + (showNames ? ["name"] : []) + ["dice", "hd95_mm", "asd_mm", "pred_voxels", "truth_voxels"]
        var rows = result.labels.map { m in
            [String(m.label)] + (showNames ? [names[m.label] ?? ""] : [])
                + [Self.format(m.dice, 4), Self.format(m.hausdorff95MM, 2), Self.format(m.averageSurfaceDistanceMM, 2),
                   String(m.predictedVoxels), String(m.referenceVoxels)]
        }
        rows.append(["mean"] + (showNames ? [""] : [])
                    + [Self.format(result.meanDice, 4), Self.format(result.meanHausdorff95MM, 2),
                       Self.format(result.meanAverageSurfaceDistanceMM, 2), "", ""])
        if result.labels.isEmpty { header = ["no labels to evaluate"]; rows = [] }
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        let leftAligned: Set<Int> = showNames ? [1] : []
        return ([header] + rows).map { row in
            row.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - row[c].count)
                return leftAligned.contains(c) ? row[c] + pad : pad + row[c]
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }

    static func format(_ x: Double?, _ decimals: Int) -> String {
        guard let x else { return "-" }
        return x.isFinite ? String(format: "%.\(decimals)f", x) : "inf"
    }
}

/// `--labels 1,2,5-8`.
enum LabelList {
    static func parse(_ text: String) throws -> [Int] {
        var out: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            if bounds.count == 1, let a = bounds[0], a >= 0 {
                out.append(a)
            } else if bounds.count == 2, let a = bounds[0], let b = bounds[1], a >= 0, a <= b, b - a < 100_000 {
                out.append(contentsOf: a...b)
            } else {
                throw ValidationError("--labels: \"\(part)\" is not a label or a range such as 5-8")
            }
        }
        return out
    }
}

/// `--names FILE`: a JSON object whose keys are label ids.
enum LabelNames {
    struct Failure: LegSegError {
        let file: String?
        let message: String
        var description: String { "\(file ?? "?"): \(message)" }
    }

    static func read(_ path: String) throws -> [Int: String] {
        if path == "standardized" { return LabelTables.names(of: .standardized) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(file: path, message: FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Failure(file: path, message: "not a JSON object mapping label ids to names")
        }
        var names: [Int: String] = [:]
        for (key, value) in object {
            guard let id = Int(key), let name = value as? String else {
                throw Failure(file: path, message: "entry \"\(key)\" is not a label id with a name string")
            }
            names[id] = name
        }
        return names
    }
}
