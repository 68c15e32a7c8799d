import Foundation
import LegSegIO

extension PhantomCase {
    /// File name suffix of each image contrast; the first requested image is always NAME_image.nii.gz.
    static func suffix(_ c: ImageContrast) -> String {
        switch c {
        case .outPhase: return "outphase"
        case .inPhase: return "inphase"
        case .water: return "water"
        case .fat: return "fat"
        case .t1Like: return "t1like"
        case .all: return "image"
        }
    }

    /// Writes NAME_image.nii.gz (the first requested contrast; with `all`, out-phase), further contrasts as
    /// NAME_inphase / NAME_water / NAME_fat.nii.gz, NAME_labels.nii.gz and NAME.json into `directory`, each file
    /// atomically. Returns the written files.
    @discardableResult
    public func write(to directory: URL) throws -> [URL] {
        var written: [URL] = []
        for (n, image) in images.enumerated() {
            let url = directory.appendingPathComponent("\(name)_\(n == 0 ? "image" : PhantomCase.suffix(image.contrast)).nii.gz")
            try NIfTIWriter.write(image.volume, to: url, description: "LegSeg phantom \(image.contrast.rawValue)")
            written.append(url)
        }
        let labelURL = directory.appendingPathComponent("\(name)_labels.nii.gz")
        try NIfTIWriter.write(labels, to: labelURL, description: "LegSeg phantom labels \(metadata.labelTable)")
        written.append(labelURL)
        let jsonURL = directory.appendingPathComponent("\(name).json")
        try AtomicFile.write(try metadata.jsonData(), to: jsonURL)
        written.append(jsonURL)
        return written
    }
}

extension PhantomMetadata {
    /// Pretty-printed JSON with sorted keys (stable bytes for a given phantom).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
