import Foundation

/// The networks shipped with LegSeg (`DefaultModels/`: `thigh`, `lowerleg` and `classifier`, each a model JSON
/// plus its safetensors; model cards in `docs/models/`). SwiftPM copies them into the resource bundle
/// `LegSeg_LegSegModels.resources` (`.bundle` on macOS) beside the built products; an installed `legseg` needs that
/// folder beside it, or `LEGSEG_MODELS` pointing at a folder of model files.
public enum BundledModels {
    /// File stems `legseg segment` loads by default.
    public static let names = ["thigh", "lowerleg", "classifier"]

    /// The folder holding the default model files, or nil when none can be found. Looked for in `LEGSEG_MODELS`,
    /// then beside the running executable (symbolic links resolved), then at the build-time resource path.
    /// Found by hand rather than with `Bundle.module`, whose accessor stops the process when the bundle is missing.
    public static var folder: URL? {
        let fm = FileManager.default
        func holdsModels(_ url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent("thigh.json").path) }
        if let env = ProcessInfo.processInfo.environment["LEGSEG_MODELS"], !env.isEmpty {
            let url = URL(fileURLWithPath: env)
            return holdsModels(url) ? url : nil
        }
        var candidates: [URL] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        for base in [executable.deletingLastPathComponent(), Bundle.main.bundleURL] {
            for bundle in ["LegSeg_LegSegModels.resources", "LegSeg_LegSegModels.bundle/Contents/Resources", "LegSeg_LegSegModels.bundle"] {
                candidates.append(base.appendingPathComponent(bundle).appendingPathComponent("DefaultModels"))
            }
        }
        // During development (tests, `swift run`): the package's own source folder.
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("DefaultModels"))
        return candidates.first(where: holdsModels)
    }
}
