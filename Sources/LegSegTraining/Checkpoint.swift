import Foundation
import LegSegEngine
import LegSegIO

/// A checkpoint is an ordinary LegSeg model file (`<name>.json` + `<name>.safetensors`, loadable for
/// inference) plus `<name>.optimizer.safetensors`: the optimiser's state tensors, with the step, batch index and
/// settings in its metadata. Resuming from it continues a run exactly.
/// What a checkpoint saves and restores of a trainer (the UNet's and the slice classifier's).
public protocol CheckpointableTrainer: AnyObject {
    /// The architecture as the model file states it.
    var architectureSpec: ArchitectureSpec { get }
    var parameters: [String: HostTensor] { get set }
    var optimizer: any Optimizer { get }
    var settings: TrainingSettings { get set }
    /// Batches completed (the schedule's index).
    var batch: Int { get }
    func restore(batch: Int)
}

extension SegmentationTrainer: CheckpointableTrainer {
    public var architectureSpec: ArchitectureSpec { .unet(network.configuration) }
    public var parameters: [String: HostTensor] {
        get { network.parameters }
        set { network.parameters = newValue }
    }
}

public enum Checkpoint {
    static let optimizerSuffix = ".optimizer.safetensors"

    /// Writes the model file and the optimiser state into `directory`; returns the model JSON's URL.
    @discardableResult
    public static func write(_ trainer: any CheckpointableTrainer, manifest: ModelManifest, to directory: URL) throws -> URL {
        var manifest = manifest
        manifest.architecture = trainer.architectureSpec
        manifest.weights.dtype = .f32
        let jsonURL = try ModelFile.write(manifest: manifest, weights: trainer.parameters, to: directory)
        let settings = String(decoding: try JSONEncoder().encode(trainer.settings), as: UTF8.self)
        let metadata = ["format": "legseg-optimizer", "optimizer": String(describing: type(of: trainer.optimizer)),
                        "step": String(trainer.optimizer.step), "batch": String(trainer.batch), "settings": settings]
        let blob = try SafetensorsFile.serialize(trainer.optimizer.stateTensors(), dtype: .f32, metadata: metadata)
        let url = directory.appendingPathComponent(manifest.name + optimizerSuffix)
        do { try AtomicFile.write(blob, to: url) } catch { throw TrainingError(file: url.path, "cannot write optimiser state (\(error))") }
        return jsonURL
    }

    /// Restores weights, optimiser state, batch index and settings from a checkpoint written by `write` into a
    /// trainer built with the same architecture and optimiser type.
    public static func resume(_ trainer: any CheckpointableTrainer, from jsonURL: URL) throws {
        let model = try ModelFile(contentsOf: jsonURL)
        let url = jsonURL.deletingLastPathComponent().appendingPathComponent(model.manifest.name + optimizerSuffix)
        let file: SafetensorsFile
        do { file = try SafetensorsFile(contentsOf: url) } catch { throw TrainingError(file: url.path, "cannot read optimiser state (\(error))") }
        let meta = file.metadata
        guard meta["format"] == "legseg-optimizer", let step = meta["step"].flatMap(Int.init),
              let batch = meta["batch"].flatMap(Int.init), let settingsJSON = meta["settings"] else {
            throw TrainingError(file: url.path, "not a LegSeg optimiser state (metadata format/step/batch/settings missing)")
        }
        guard meta["optimizer"] == String(describing: type(of: trainer.optimizer)) else {
            throw TrainingError(file: url.path, "optimiser \(meta["optimizer"] ?? "?") does not match \(type(of: trainer.optimizer))")
        }
        guard model.manifest.architecture == trainer.architectureSpec else {
            throw TrainingError(file: jsonURL.path, "architecture differs from the network being trained")
        }
        var state: [String: HostTensor] = [:]
        for name in file.names { state[name] = try file.tensor(name) }
        trainer.settings = try JSONDecoder().decode(TrainingSettings.self, from: Data(settingsJSON.utf8))
        try trainer.optimizer.restore(step: step, state: state)
        trainer.parameters = model.weights
        trainer.restore(batch: batch)
    }
}
