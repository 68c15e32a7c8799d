import ArgumentParser
import Foundation
import LegSegIO

/// `legseg info FILE...`: one line per file (shape, voxel size, orientation, datatype, intensity range).
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe NIfTI files: shape, voxel size, orientation, datatype, intensity range.",
        discussion: """
        Bad files print one error line and the command goes on with the next file; the exit code is 1 when any \
        file could not be read. With --json, each file gives one JSON object per line on standard output.
        """)

    @Argument(help: "NIfTI files (.nii or .nii.gz).", completion: .file(extensions: ["nii", "gz"]))
    var files: [String]

    @Option(help: "Which volume of a 4D file to describe, from 0.")
    var volume: Int = 0

    @Flag(help: "Print one JSON object per file instead of text.")
    var json = false

    func validate() throws {
        guard volume >= 0 else { throw ValidationError("--volume must be 0 or more") }
    }

    func run() throws {
        var failures = 0
        for file in files {
            do {
                let image = try NIfTIReader.read(URL(fileURLWithPath: file), volume: volume)
                let summary = VolumeSummary(image)
                for warning in image.warnings { Terminal.warn("\(file): \(warning)") }
                print(json ? summary.jsonLine : summary.textLine)
            } catch {
                failures += 1
                Terminal.error(error)
                if json { print(JSONLine.encode(["file": .string(file), "error": .string(Terminal.message(for: error))])) }
            }
        }
        if failures > 0 { throw ExitCode(ExitCodes.badInput) }
    }
}

/// What `legseg info` reports about one image.
struct VolumeSummary {
    let image: NIfTIImage

    init(_ image: NIfTIImage) { self.image = image }

    var range: (min: Float, max: Float) {
        image.volume.voxels.withUnsafeBufferPointer { v in
            var lo = Float.infinity, hi = -Float.infinity
            for x in v { lo = min(lo, x); hi = max(hi, x) }
            return v.isEmpty ? (0, 0) : (lo, hi)
        }
    }

    var orientationCode: String { image.volume.orientation?.code ?? "none" }

    var textLine: String {
        let v = image.volume
        let r = range
        var line = "\(image.path): \(v.shape.map(String.init).joined(separator: "x")) voxels, "
        line += v.spacing.map { String(format: "%.3g", $0) }.joined(separator: "x") + " mm, "
        line += "\(orientationCode), \(image.header.datatype?.name ?? "?"), range \(format(r.min)) to \(format(r.max))"
        if image.header.volumeCount > 1 { line += ", volume \(image.volumeIndex + 1) of \(image.header.volumeCount)" }
        return line
    }

    var jsonLine: String {
        let v = image.volume, r = range
        return JSONLine.encode([
            "file": .string(image.path),
            "shape": .array(v.shape.map { .number(Double($0)) }),
            "voxel_size_mm": .array(v.spacing.map { .number($0) }),
            "orientation": .string(orientationCode),
            "datatype": .string(image.header.datatype?.name ?? "?"),
            "min": .number(Double(r.min)),
            "max": .number(Double(r.max)),
            "volumes": .number(Double(image.header.volumeCount)),
            "volume_index": .number(Double(image.volumeIndex)),
            "nifti_version": .number(Double(image.header.version.rawValue)),
            "affine_source": .string(image.affineSource.rawValue),
            "affine": .array(image.volume.affine.rows.map { .array($0.map { .number($0) }) }),
            "warnings": .array(image.warnings.map { .string($0) }),
        ])
    }

    private func format(_ x: Float) -> String { String(format: "%.6g", Double(x)) }
}
