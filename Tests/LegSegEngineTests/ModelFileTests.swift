import Foundation
import LegSegEngine
import Testing

/// The strict loader: every way a model file can disagree with its weights gives one clear line.
@Suite struct ModelFileTests {
    /// A copy of a fixture model in a temporary folder, with the manifest or weights changed by `edit`.
    func brokenCopy(_ name: String = "unet3d_gelu_batch",
                    editJSON: (inout [String: Any]) -> Void = { _ in },
                    editWeights: ((inout [String: HostTensor]) -> Void)? = nil,
                    weightsDType: SafetensorsDType? = nil) throws -> URL {
        let dir = try TestSupportShim.temporaryDirectory()
        let original = try ModelFile(contentsOf: Fixtures.url(name + ".json"))
        var weights = original.weights
        var manifest = original.manifest
        if let weightsDType { manifest.weights.dtype = weightsDType }
        editWeights?(&weights)
        let url = try ModelFile.write(manifest: manifest, weights: weights, to: dir)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        editJSON(&json)
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted]).write(to: url)
        return url
    }

    func loadError(_ url: URL) -> String? {
        do { _ = try ModelFile(contentsOf: url); return nil } catch { return "\(error)" }
    }

    @Test("every fixture model loads", arguments: ["unet3d_gelu_batch", "unet3d_elu_instance_linear", "unet2d_leaky_none",
                                                   "unet3d_relu_batch_deep", "classifier_small"])
    func fixturesLoad(_ name: String) throws {
        let model = try ModelFile(contentsOf: Fixtures.url(name + ".json"))
        #expect(model.manifest.name == name)
        #expect(Set(model.weights.keys) == Set(model.manifest.architecture.network.parameterSpecs().map(\.name)))
    }

    @Test func writeThenLoadRoundTrips() throws {
        let url = try brokenCopy()
        let model = try ModelFile(contentsOf: url)
        let original = try ModelFile(contentsOf: Fixtures.url("unet3d_gelu_batch.json"))
        #expect(model.manifest == original.manifest.with(sha256: model.manifest.weights.sha256))
        #expect(model.weights == original.weights)
    }

    @Test func missingTensor() throws {
        let url = try brokenCopy(editWeights: { $0["encoder.1.down.bias"] = nil })
        #expect(loadError(url)?.hasSuffix("unet3d_gelu_batch.safetensors: missing tensor \"encoder.1.down.bias\" (shape [4])") == true,
                "\(loadError(url) ?? "loaded")")
    }

    @Test func extraTensor() throws {
        let url = try brokenCopy(editWeights: { $0["encoder.0.block.norm.0.num_batches_tracked"] = HostTensor(zeros: [1]) })
        #expect(loadError(url)?.hasSuffix("unexpected tensor \"encoder.0.block.norm.0.num_batches_tracked\" not used by the architecture") == true,
                "\(loadError(url) ?? "loaded")")
    }

    @Test func wrongShape() throws {
        let url = try brokenCopy(editWeights: { $0["map.bias"] = HostTensor(zeros: [4]) })
        #expect(loadError(url)?.hasSuffix("tensor \"map.bias\" has shape [4], the architecture needs [3]") == true,
                "\(loadError(url) ?? "loaded")")
    }

    @Test func wrongDType() throws {
        // The weights are written as BF16 but the JSON is edited to declare F32.
        let url = try brokenCopy(editJSON: { json in
            var w = json["weights"] as! [String: Any]; w["dtype"] = "F32"; json["weights"] = w
        }, weightsDType: .bf16)
        #expect(loadError(url)?.contains("is BF16 but the model file declares F32") == true, "\(loadError(url) ?? "loaded")")
    }

    @Test func checksumMismatch() throws {
        let url = try brokenCopy(editJSON: { json in
            var w = json["weights"] as! [String: Any]; w["sha256"] = String(repeating: "0", count: 64); json["weights"] = w
        })
        let message = loadError(url) ?? "loaded"
        #expect(message.contains("sha256 is ") && message.hasSuffix("but unet3d_gelu_batch.json expects \(String(repeating: "0", count: 64))"), "\(message)")
    }

    @Test func unknownLayerTypes() throws {
        func withArchitecture(_ key: String, _ value: Any) throws -> String {
            let url = try brokenCopy(editJSON: { json in
                var a = json["architecture"] as! [String: Any]; a[key] = value; json["architecture"] = a
            })
            return loadError(url) ?? "loaded"
        }
        #expect(try withArchitecture("type", "transformer").contains("architecture.type: unknown architecture type \"transformer\""))
        #expect(try withArchitecture("activation", "swish").contains("unknown activation \"swish\""))
        #expect(try withArchitecture("block", "densenet").contains("unknown block type \"densenet\" (implemented: resnet)"))
        #expect(try withArchitecture("normalization", "group").contains("unknown normalization \"group\""))
        #expect(try withArchitecture("attention", true).contains("unknown UNet key \"attention\""))
        #expect(try withArchitecture("downsampling", [[1, 2, 2]]).contains("downsampling has 1 entries; depth 3 needs 2"))
    }

    @Test func inconsistentManifests() throws {
        let classes = try brokenCopy(editJSON: { json in json["classes"] = [["name": "background", "label": 0]] })
        #expect(loadError(classes)?.contains("\"classes\" lists 1 entries but the network has 3 outputs") == true)
        let patch = try brokenCopy(editJSON: { json in
            var i = json["input"] as! [String: Any]; i["patchSize"] = [8, 16, 15]; json["input"] = i
        })
        #expect(loadError(patch)?.contains("is not a multiple of the network's step [2, 4, 4]") == true)
        let version = try brokenCopy(editJSON: { json in json["formatVersion"] = 7 })
        #expect(loadError(version)?.contains("formatVersion 7 is not supported") == true)
        let missing = try brokenCopy(editJSON: { json in json["input"] = nil })
        #expect(loadError(missing)?.hasSuffix("missing field \"input\"") == true, "\(loadError(missing) ?? "loaded")")
    }

    @Test func missingWeightsFile() throws {
        let url = try brokenCopy()
        try FileManager.default.removeItem(at: url.deletingLastPathComponent().appendingPathComponent("unet3d_gelu_batch.safetensors"))
        #expect(loadError(url)?.contains("cannot read the weights file named by unet3d_gelu_batch.json") == true)
    }
}

extension ModelManifest {
    func with(sha256: String) -> ModelManifest {
        var m = self
        m.weights.sha256 = sha256
        return m
    }
}

enum TestSupportShim {
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("legseg-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
