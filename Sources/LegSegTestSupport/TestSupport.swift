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

/// Runs the built `legseg` executable and captures what it prints.
public struct CLIRun: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// The `legseg` binary next to the test bundle (SwiftPM puts both in the same build folder).
    public static var executable: URL? {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("legseg")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// Runs `legseg arguments...` in `directory` and waits for it.
    public static func legseg(_ arguments: [String], in directory: URL? = nil) throws -> CLIRun {
        guard let exe = executable else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "legseg binary not built"]) }
        let process = Process()
        process.executableURL = exe
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a large output cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIRun(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
