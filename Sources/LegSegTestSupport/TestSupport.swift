import Foundation

/// Shared helpers for LegSeg's test targets.
public enum TestSupport {
    /// The real QMRITools volumes, `../shared/data/qmritools` beside the package root, or nil when absent.
    /// Tests that need them are skipped with a message when this is nil.
    public static var realDataDirectory: URL? {
        if let env = ProcessInfo.processInfo.environment["LEGSEG_REAL_DATA"], !env.isEmpty {
            return FileManager.default.fileExists(atPath: env) ? URL(fileURLWithPath: env) : nil
        }
        let dir = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/qmritools")
        return FileManager.default.fileExists(atPath: dir.appendingPathComponent("test_up.nii.gz").path) ? dir : nil
    }

    /// The package's root folder (found from this source file's location).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A fresh empty temporary folder.
    public static func makeTemporaryDirectory(_ name: String = "legseg-test") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
