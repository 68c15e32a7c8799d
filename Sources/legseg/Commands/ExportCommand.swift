import ArgumentParser
import Foundation
import LegSegEngine

/// `legseg export`: turn a training checkpoint into a model to ship or share — the model JSON and weights only
/// (no optimiser state), optionally renamed, weights stored as f16/bf16 to halve the file, provenance extended.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Copy a model or checkpoint as a model file to ship (weights in f32, f16 or bf16; no optimiser state).")

    enum DType: String, ExpressibleByArgument, CaseIterable { case f32, f16, bf16 }

    @Argument(help: "Model JSON (a checkpoint written by legseg train, or any model file).") var model: String
    @Option(help: "Output folder.") var out: String
    @Option(help: "New model name (file stem); default: the same.") var name: String?
    @Option(help: "Weight storage type.") var dtype: DType = .f16
    @Option(help: "Extra provenance entry KEY=VALUE (repeatable).") var provenance: [String] = []

    func run() throws {
        do {
            let file = try ModelFile(contentsOf: URL(fileURLWithPath: model))
            var manifest = file.manifest
            if let name { manifest.name = name }
            manifest.weights.file = manifest.name + ".safetensors"
            manifest.weights.dtype = dtype == .f32 ? .f32 : (dtype == .f16 ? .f16 : .bf16)
            manifest.provenance["exportedFrom"] = (model as NSString).lastPathComponent
            for entry in provenance {
                guard let eq = entry.firstIndex(of: "=") else { throw ValidationError("--provenance needs KEY=VALUE, got \(entry)") }
                manifest.provenance[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
            }
            let folder = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let url = try ModelFile.write(manifest: manifest, weights: file.weights, to: folder)
            _ = try ModelFile(contentsOf: url)  // what was written loads and checks out
            Terminal.note("\(url.relativePath): \(manifest.weights.dtype.rawValue) weights")
        } catch let error as ValidationError { throw error } catch {
            Terminal.error(error)
            throw ExitCode(ExitCodes.badInput)
        }
    }
}
