/// Label tables of QMRITools' SegmentData (segmentdata-spec.md section 5), as plain data.
///
/// The phantom paints labels of the standardized left/right table `Muscles_leg.txt` (odd = left, even = right)
/// and can translate them into the training tables of the thigh network (N5_UpperLeg) and the lower-leg
/// network (N6_LowerLeg). Spelling quirks ("Satorius", "Subcutanious") are kept because matching between tables
/// goes by normalised name.
public enum LabelTables {
    /// Label value of a voxel without a trustworthy label (pseudo-labels too uncertain to use): the teacher's
    /// pseudo-label maps write it and training leaves such voxels out of every loss. No table uses it.
    public static let unlabelled: UInt8 = 255

    /// One structure of the standardized table: its left and right label (right is nil for unsided structures)
    /// and ITK-SNAP colours.
    public struct Structure: Sendable {
        public let name: String
        public let left: Int
        public let right: Int?
        public let leftColor: (UInt8, UInt8, UInt8)
        public let rightColor: (UInt8, UInt8, UInt8)
        init(_ name: String, _ left: Int, _ right: Int?, _ lc: (UInt8, UInt8, UInt8), _ rc: (UInt8, UInt8, UInt8)) {
            self.name = name; self.left = left; self.right = right; leftColor = lc; rightColor = rc
        }
    }

    /// `Muscles_leg.txt`, in file order.
    public static let standardized: [Structure] = [
        Structure("Clear Label", 0, nil, (0, 0, 0), (0, 0, 0)),
        Structure("Lateral gastrocnemius", 1, 2, (255, 192, 203), (127, 255, 212)),
        Structure("Medial gastrocnemius", 3, 4, (255, 165, 0), (173, 216, 230)),
        Structure("Soleus", 5, 6, (255, 38, 0), (143, 188, 143)),
        Structure("Plantaris", 7, 8, (220, 20, 60), (255, 93, 65)),
        Structure("Popliteus", 9, 10, (0, 247, 255), (0, 206, 209)),
        Structure("Flexor digitorum longus", 11, 12, (255, 250, 205), (250, 114, 237)),
        Structure("Flexor hallucis longus", 13, 14, (0, 255, 127), (128, 0, 128)),
        Structure("Tibialis posterior", 15, 16, (148, 0, 211), (33, 178, 43)),
        Structure("Fibularis longus", 17, 18, (255, 127, 80), (135, 206, 235)),
        Structure("Fibularis brevis", 19, 20, (100, 149, 237), (240, 230, 140)),
        Structure("Tibialis anterior", 21, 22, (65, 105, 225), (255, 99, 71)),
        Structure("Extensor digitorum longus", 23, 24, (50, 205, 50), (90, 103, 185)),
        Structure("Extensor hallucis longus", 25, 26, (255, 255, 2), (128, 0, 0)),
        Structure("Fibularis tertius", 27, 28, (255, 255, 240), (123, 104, 238)),
        Structure("Biceps femoris long", 31, 32, (0, 100, 0), (238, 130, 238)),
        Structure("Biceps femoris short", 33, 34, (100, 100, 23), (50, 100, 138)),
        Structure("Semimembranosus", 35, 36, (48, 57, 176), (184, 134, 11)),
        Structure("Semitendinosus", 37, 38, (79, 217, 93), (240, 255, 240)),
        Structure("Adductor magnus", 39, 40, (203, 44, 182), (173, 255, 47)),
        Structure("Adductor minimus", 41, 42, (255, 228, 196), (218, 165, 32)),
        Structure("Adductor longus", 43, 44, (245, 255, 250), (255, 160, 122)),
        Structure("Adductor brevis", 45, 46, (34, 139, 34), (248, 248, 255)),
        Structure("Gracilis", 47, 48, (32, 178, 170), (255, 20, 147)),
        Structure("Iliacus", 49, 50, (0, 255, 255), (255, 0, 255)),
        Structure("Psoas major", 51, 52, (255, 0, 0), (0, 255, 0)),
        Structure("Psoas minor", 53, 54, (0, 0, 255), (255, 255, 0)),
        Structure("Vastus lateralis", 55, 56, (222, 184, 135), (127, 255, 0)),
        Structure("Vastus intermedius", 57, 58, (139, 69, 19), (252, 25, 0)),
        Structure("Vastus medialis", 59, 60, (255, 255, 224), (70, 130, 180)),
        Structure("Rectus femoris", 61, 62, (255, 105, 180), (255, 218, 185)),
        Structure("Satorius", 63, 64, (203, 193, 0), (188, 143, 143)),
        Structure("Pectineus", 65, 66, (25, 25, 112), (112, 128, 144)),
        Structure("Gluteus maximus", 71, 72, (205, 133, 63), (210, 180, 140)),
        Structure("Gluteus medius", 73, 74, (102, 205, 170), (212, 65, 65)),
        Structure("Gluteus minimus", 75, 76, (0, 139, 139), (46, 139, 87)),
        Structure("Tensor fascia latae", 77, 78, (67, 185, 44), (0, 0, 205)),
        Structure("Piriformis", 79, 80, (255, 228, 225), (106, 90, 205)),
        Structure("Obturator internus", 81, 82, (165, 42, 42), (255, 250, 250)),
        Structure("Obturator externus", 83, 84, (221, 160, 221), (233, 150, 122)),
        Structure("Gemellus inferior", 85, 86, (147, 112, 219), (218, 112, 214)),
        Structure("Gemellus superior", 87, 88, (75, 0, 130), (255, 182, 193)),
        Structure("Quadratus femoris", 89, 90, (60, 179, 113), (255, 235, 205)),
        Structure("Quadratus lumborum", 91, 92, (60, 179, 113), (255, 235, 205)),
        Structure("Ilium", 101, 102, (200, 200, 200), (200, 200, 200)),
        Structure("Femur", 103, 104, (200, 200, 200), (200, 200, 200)),
        Structure("Patella", 105, 106, (200, 200, 200), (200, 200, 200)),
        Structure("Tibia", 107, 108, (200, 200, 200), (200, 200, 200)),
        Structure("Fibula", 109, 110, (200, 200, 200), (200, 200, 200)),
        Structure("Bones feet", 111, 112, (200, 200, 200), (200, 200, 200)),
        Structure("Sacrum", 121, nil, (24, 239, 105), (24, 239, 105)),
        Structure("Subcutanious fat", 151, nil, (240, 0, 255), (240, 0, 255)),
    ]

    /// N5_UpperLeg (thigh network "SegThighMuscle"), index = training label.
    public static let thighNetwork: [String] = [
        "Clear Label", "Biceps femoris long", "Biceps femoris short", "Semimembranosus", "Semitendinosus",
        "Adductor magnus", "Adductor minimus", "Adductor longus", "Adductor brevis", "Gracilis", "Iliacus",
        "Psoas major", "Vastus lateralis", "Vastus intermedius", "Vastus medialis", "Rectus femoris", "Satorius",
        "Pectineus", "Ilium", "Femur", "Patella", "Subcutanious fat",
    ]

    /// N6_LowerLeg (lower-leg network "SegLegMuscle"), index = training label.
    public static let lowerLegNetwork: [String] = [
        "Clear Label", "Lateral gastrocnemius", "Medial gastrocnemius", "Soleus", "Plantaris", "Popliteus",
        "Flexor digitorum longus", "Flexor hallucis longus", "Tibialis posterior", "Fibularis longus",
        "Fibularis brevis", "Tibialis anterior", "Extensor digitorum longus", "Extensor hallucis longus",
        "Fibularis tertius", "Patella", "Tibia", "Fibula", "Subcutanious fat",
    ]

    /// Which label table a label map is written with.
    public enum Table: String, Sendable, Codable, CaseIterable {
        /// `Muscles_leg.txt`, left/right labels (default).
        case standardized
        /// N5_UpperLeg training labels (unsided; structures of other regions become 0).
        case thigh
        /// N6_LowerLeg training labels (unsided; structures of other regions become 0).
        case lowerLeg = "lower-leg"
    }

    /// The spec's name normalisation: words split on white space, integer words dropped, each word capitalised,
    /// joined with `_` ("Biceps femoris long Left" -> "Biceps_Femoris_Long_Left").
    public static func normalisedName(_ name: String) -> String {
        name.split(whereSeparator: { $0 == " " || $0 == "\t" })
            .filter { Int($0) == nil }
            .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
            .joined(separator: "_")
    }

    /// Structure of a standardized label (nil for 0 or an unknown label) and whether it is the right-side entry.
    public static func structure(ofStandardized label: Int) -> (structure: Structure, isRight: Bool)? {
        for s in standardized where label != 0 {
            if s.left == label { return (s, false) }
            if s.right == label { return (s, true) }
        }
        return nil
    }

    /// Name of a standardized label with its side, e.g. "Soleus_Left"; nil when unknown.
    public static func name(ofStandardized label: Int) -> String? {
        guard let (s, right) = structure(ofStandardized: label) else { return label == 0 ? "Clear_Label" : nil }
        let base = normalisedName(s.name)
        if s.right == nil { return base }
        return base + (right ? "_Right" : "_Left")
    }

    /// Lookup table (256 entries) that translates standardized labels into `table`'s labels.
    public static func translation(to table: Table) -> [UInt8] {
        var lut = [UInt8](repeating: 0, count: 256)
        let names: [String]
        switch table {
        case .standardized: return (0..<256).map { UInt8($0) }
        case .thigh: names = thighNetwork
        case .lowerLeg: names = lowerLegNetwork
        }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { (normalisedName($0.element), $0.offset) })
        for s in standardized {
            guard let n = index[normalisedName(s.name)] else { continue }
            lut[s.left] = UInt8(n)
            if let r = s.right { lut[r] = UInt8(n) }
        }
        lut[0] = 0
        return lut
    }

    /// The label-to-name map of `table`, for the JSON sidecar.
    public static func names(of table: Table) -> [Int: String] {
        switch table {
        case .standardized:
            var out: [Int: String] = [:]
            for s in standardized {
                out[s.left] = s.right == nil || s.left == 0 ? normalisedName(s.name) : normalisedName(s.name) + "_Left"
                if let r = s.right { out[r] = normalisedName(s.name) + "_Right" }
            }
            return out
        case .thigh: return Dictionary(uniqueKeysWithValues: thighNetwork.enumerated().map { ($0.offset, normalisedName($0.element)) })
        case .lowerLeg: return Dictionary(uniqueKeysWithValues: lowerLegNetwork.enumerated().map { ($0.offset, normalisedName($0.element)) })
        }
    }

    /// ITK-SNAP label description text of the standardized table. Descriptions are generated from the names, so
    /// the original file's stale "89"/"90" in the quadratus lumborum lines (spec §5.2) cannot recur.
    public static func itkSnapDescription() -> String {
        var lines = ["# ITK-SNAP Label Description File (LegSeg, standardized Muscles_leg table)"]
        for s in standardized {
            func line(_ idx: Int, _ c: (UInt8, UInt8, UInt8), _ suffix: String) -> String {
                let vis = idx == 0 ? "0 0 0" : "1 1 1"
                return "\(idx) \(c.0) \(c.1) \(c.2) \(vis) \"\(s.name)\(suffix)\""
            }
            if s.right == nil { lines.append(line(s.left, s.leftColor, "")) } else {
                lines.append(line(s.left, s.leftColor, " Left"))
                lines.append(line(s.right!, s.rightColor, " Right"))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
