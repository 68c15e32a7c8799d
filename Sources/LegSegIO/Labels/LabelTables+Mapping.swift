extension LabelTables {
    /// Output labels (standardized table) of a network's classes for a leg on each side, matched by normalised
    /// name (spec §1.7): `Name_Left`/`Name_Right` when the standardized table has sided entries, else the bare
    /// name (subcutaneous fat, sacrum). Class 0 and names the table does not know map to 0; `unknown` lists them.
    public static func standardizedLabels(forClassNames names: [String]) -> (left: [Int], right: [Int], unknown: [String]) {
        var byName: [String: Structure] = [:]
        for s in standardized { byName[normalisedName(s.name)] = s }
        var left: [Int] = [], right: [Int] = [], unknown: [String] = []
        for (c, name) in names.enumerated() {
            let key = normalisedName(name)
            guard c > 0, let s = byName[key], s.left != 0 else {
                if c > 0 { unknown.append(name) }
                left.append(0); right.append(0)
                continue
            }
            left.append(s.left)
            right.append(s.right ?? s.left)
        }
        return (left, right, unknown)
    }

    /// Colour of every standardized label (for QC pictures).
    public static var colors: [Int: (UInt8, UInt8, UInt8)] {
        var out: [Int: (UInt8, UInt8, UInt8)] = [:]
        for s in standardized where s.left != 0 {
            out[s.left] = s.leftColor
            if let r = s.right { out[r] = s.rightColor }
        }
        return out
    }
}
