import Foundation
import LegSegIO

/// Exit codes of `legseg` (documented in README.md).
enum ExitCodes {
    /// A file could not be read or was refused (bad input).
    static let badInput: Int32 = 1
    /// Usage errors are reported by ArgumentParser with code 64.
    static let internalFailure: Int32 = 70
}

/// Messages to the user's terminal. Libraries never print; the CLI does it here, on stderr.
enum Terminal {
    /// The one-line text for an error: LegSeg errors already name their file.
    static func message(for error: Error) -> String {
        if let e = error as? any LegSegError { return e.description }
        return String(describing: error)
    }

    static func error(_ error: Error) {
        FileHandle.standardError.write(Data("legseg: error: \(message(for: error))\n".utf8))
    }

    /// An informational line on stderr (stdout stays machine-readable).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data("\(text)\n".utf8))
    }

    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("legseg: warning: \(text)\n".utf8))
    }

    /// True when standard error is a terminal (progress bars are drawn only then).
    static var isInteractive: Bool { isatty(STDERR_FILENO) != 0 }
}

/// A minimal JSON value for one-line output, with keys in a fixed (sorted) order so lines are stable.
enum JSONValue {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    var text: String {
        switch self {
        case .string(let s): return JSONValue.quote(s)
        case .number(let x):
            guard x.isFinite else { return "null" }
            if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
            return "\(x)"
        case .bool(let b): return b ? "true" : "false"
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { JSONValue.quote($0) + ":" + o[$0]!.text }.joined(separator: ",") + "}"
        case .null: return "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

enum JSONLine {
    static func encode(_ object: [String: JSONValue]) -> String { JSONValue.object(object).text }
}
