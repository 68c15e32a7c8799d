import Foundation

/// An ITK-SNAP label description file (spec §5.1): `IDX R G B A VIS MSH "LABEL"` per line, `#` comments.
public struct ITKSnapLabelFile: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var index: Int
        public var color: [UInt8]
        /// The last double-quoted string on the line, as written.
        public var label: String
        /// The spec's normalised name ("31 Biceps femoris long Left" → "Biceps_Femoris_Long_Left").
        public var normalisedName: String { LabelTables.normalisedName(label) }
    }

    public var entries: [Entry]

    /// Parses the text of a label file; `file` names it in errors.
    public init(text: String, file: String) throws {
        var entries: [Entry] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let index = fields.first.flatMap({ Int($0) }), index >= 0,
                  let close = line.lastIndex(of: "\""), let open = line[..<close].lastIndex(of: "\"") else {
                throw LabelFileError(file: file, message: "line \(number + 1) is not `IDX R G B A VIS MSH \"LABEL\"`: \(line.prefix(60))")
            }
            let color = fields.dropFirst().prefix(3).compactMap { UInt8($0) }
            entries.append(Entry(index: index, color: color.count == 3 ? color : [0, 0, 0],
                                 label: String(line[line.index(after: open)..<close])))
        }
        guard !entries.isEmpty else { throw LabelFileError(file: file, message: "holds no labels") }
        let duplicates = Dictionary(grouping: entries, by: \.index).filter { $0.value.count > 1 }.keys.sorted()
        guard duplicates.isEmpty else { throw LabelFileError(file: file, message: "label ids appear twice: \(duplicates)") }
        self.entries = entries
    }

    public init(contentsOf url: URL) throws {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw LabelFileError(file: url.relativePath, message: "cannot read the label file")
        }
        try self.init(text: text, file: url.relativePath)
    }

    public var indices: Set<Int> { Set(entries.map(\.index)) }
}

public struct LabelFileError: LegSegError {
    public let file: String?
    public let message: String
    public var description: String { "\(file ?? "?"): \(message)" }
}
