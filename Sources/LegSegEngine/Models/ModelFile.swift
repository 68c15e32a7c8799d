import Foundation

/// A model read from `<name>.json` + `<name>.safetensors` and checked against its architecture: the sha256,
/// every tensor's presence, name, shape and dtype. Nothing is half-loaded: any mismatch throws.
public struct ModelFile: Sendable {
    public let manifest: ModelManifest
    /// Weights as f32, by tensor name.
    public let weights: [String: HostTensor]
    public let jsonURL: URL

    /// Loads and verifies a model. Errors name the file and the problem in one line.
    public init(contentsOf jsonURL: URL) throws {
        let jsonPath = jsonURL.path
        let jsonData: Data
        do { jsonData = try Data(contentsOf: jsonURL) } catch {
            throw EngineError.modelFile(file: jsonPath, problem: "cannot read the file (\(error.localizedDescription))")
        }
        let manifest: ModelManifest
        do { manifest = try JSONDecoder().decode(ModelManifest.self, from: jsonData) } catch let error as DecodingError {
            throw EngineError.modelFile(file: jsonPath, problem: Self.describe(error))
        } catch {
            throw EngineError.modelFile(file: jsonPath, problem: "not valid JSON")
        }
        try manifest.validate(file: jsonPath)

        let weightsURL = jsonURL.deletingLastPathComponent().appendingPathComponent(manifest.weights.file)
        let weightsPath = weightsURL.path
        let data: Data
        do { data = try Data(contentsOf: weightsURL, options: .mappedIfSafe) } catch {
            throw EngineError.weights(file: weightsPath, problem: "cannot read the weights file named by \(jsonURL.lastPathComponent)")
        }
        let digest = SHA256.hex(data)
        guard digest == manifest.weights.sha256 else {
            throw EngineError.weights(file: weightsPath,
                problem: "sha256 is \(digest) but \(jsonURL.lastPathComponent) expects \(manifest.weights.sha256)")
        }
        let file = try SafetensorsFile(data: data, path: weightsPath)
        self.weights = try Self.verifiedWeights(file, architecture: manifest.architecture.network,
                                                dtype: manifest.weights.dtype, path: weightsPath)
        self.manifest = manifest
        self.jsonURL = jsonURL
    }

    /// Checks `file` against the architecture's tensor list and returns the tensors as f32.
    public static func verifiedWeights(_ file: SafetensorsFile, architecture: any NetworkArchitecture,
                                       dtype: SafetensorsDType, path: String) throws -> [String: HostTensor] {
        func fail(_ p: String) -> EngineError { .weights(file: path, problem: p) }
        let specs = architecture.parameterSpecs()
        let expected = Set(specs.map(\.name))
        if let missing = specs.first(where: { file.entries[$0.name] == nil }) {
            let count = specs.filter { file.entries[$0.name] == nil }.count
            throw fail("missing tensor \"\(missing.name)\" (shape \(missing.shape))" + (count > 1 ? " and \(count - 1) more" : ""))
        }
        let extras = file.names.filter { !expected.contains($0) }
        if let extra = extras.first {
            throw fail("unexpected tensor \"\(extra)\"" + (extras.count > 1 ? " and \(extras.count - 1) more" : "") + " not used by the architecture")
        }
        var result: [String: HostTensor] = [:]
        for spec in specs {
            let entry = file.entries[spec.name]!
            guard entry.shape == spec.shape else {
                throw fail("tensor \"\(spec.name)\" has shape \(entry.shape), the architecture needs \(spec.shape)")
            }
            guard entry.dtype == dtype else {
                throw fail("tensor \"\(spec.name)\" is \(entry.dtype.rawValue) but the model file declares \(dtype.rawValue)")
            }
            result[spec.name] = try file.tensor(spec.name)
        }
        return result
    }

    /// Writes `<directory>/<name>.safetensors` and `<directory>/<name>.json` (weights first, each through a
    /// temporary file and a rename), filling in the sha256. Returns the JSON file's URL.
    @discardableResult
    public static func write(manifest: ModelManifest, weights: [String: HostTensor], to directory: URL) throws -> URL {
        var manifest = manifest
        let blob = try SafetensorsFile.serialize(weights, dtype: manifest.weights.dtype)
        manifest.weights.sha256 = SHA256.hex(blob)
        let weightsURL = directory.appendingPathComponent(manifest.weights.file)
        let jsonURL = directory.appendingPathComponent(manifest.name + ".json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = try encoder.encode(manifest)
        for (url, data) in [(weightsURL, blob), (jsonURL, json)] {
            let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
            do {
                try data.write(to: temporary)
                if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
                try FileManager.default.moveItem(at: temporary, to: url)
            } catch {
                try? FileManager.default.removeItem(at: temporary)
                throw EngineError.modelFile(file: url.path, problem: "cannot write (\(error.localizedDescription))")
            }
        }
        return jsonURL
    }

    /// One line from a DecodingError: the JSON path and what was wrong.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let ctx): return "missing field \"\(path(ctx.codingPath + [key]))\""
        case .typeMismatch(let type, let ctx): return "field \"\(path(ctx.codingPath))\" should be \(type)"
        case .valueNotFound(let type, let ctx): return "field \"\(path(ctx.codingPath))\" is null, expected \(type)"
        case .dataCorrupted(let ctx):
            return ctx.codingPath.isEmpty ? "not valid JSON" : "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "invalid model file"
        }
    }
}
