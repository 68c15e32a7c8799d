import Foundation

/// Writes files all-or-nothing: the bytes go to a temporary file in the target folder, which is renamed over the
/// target only when complete, so a failure (full disk, crash, bad input found late) never leaves a partial file.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try data.write(to: temp, options: [.withoutOverwriting])
            guard rename(temp.path, url.path) == 0 else {
                throw AtomicFileError(file: url.path, message: "cannot rename temporary file into place: \(String(cString: strerror(errno)))")
            }
        } catch let error as AtomicFileError {
            try? FileManager.default.removeItem(at: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw AtomicFileError(file: url.path, message: "cannot write: \((error as NSError).localizedDescription)")
        }
    }
}

public struct AtomicFileError: LegSegError {
    public let file: String?
    public let message: String
    public var description: String { "\(file ?? "?"): \(message)" }
}
