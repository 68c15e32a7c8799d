import Foundation

/// Shared CSV and JSON encoding for LegSeg's reports (statistics, evaluation), so every table is written the
/// same way: RFC 4180 CSV with a header row, JSON with sorted keys, numbers at full precision.
public enum ReportEncoding {
    /// One CSV field: quoted when it holds a comma, quote or line break (quotes doubled).
    public static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A number for CSV: shortest text that reads back to the same Double; `inf` for infinity (pandas and R
    /// read it), empty for a missing value.
    public static func csvNumber(_ x: Double?) -> String {
        guard let x else { return "" }
        if x == .infinity { return "inf" }
        if x == -.infinity { return "-inf" }
        if x.isNaN { return "" }
        return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
    }

    public static func csv(header: [String], rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// A JSON value for a number: `null` for a missing or non-finite value (JSON has no infinity).
    public static func jsonNumber(_ x: Double?) -> Any {
        guard let x, x.isFinite else { return NSNull() }
        return x
    }

    /// `object` as JSON text with sorted keys, ending in a newline: one line, or indented when `pretty`.
    public static func json(_ object: Any, pretty: Bool = false) -> String {
        // Only dictionaries, arrays, strings, numbers and NSNull reach here, so serialisation cannot fail.
        let options: JSONSerialization.WritingOptions = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: options)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
