import Foundation
import LegSegIO

/// One labelled scan for training.
public struct TrainingCase: Equatable, Sendable {
    public var name: String
    public var image: URL
    public var labels: URL
}

public struct TrainingDataError: LegSegError {
    public let file: String?
    public let message: String
    public init(file: String?, message: String) { self.file = file; self.message = message }
    public var description: String { "\(file ?? "?"): \(message)" }
}

/// Finds and checks labelled scans in a folder, before any training starts.
///
/// Layouts: nnU-Net's `imagesTr/NAME_0000.nii.gz` + `labelsTr/NAME.nii.gz`, or one folder of
/// `NAME_image.nii.gz` + `NAME_labels.nii.gz` (also `.nii`). Checks: at least one case, every image has its
/// label map, both read cleanly, lie on the same grid (shape and affine), and every label value is in the label
/// table. Every problem is one line naming the file.
public enum TrainingDataset {
    public static func discover(_ folder: URL) throws -> [TrainingCase] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrainingDataError(file: folder.relativePath, message: "is not a folder")
        }
        let images = folder.appendingPathComponent("imagesTr"), labels = folder.appendingPathComponent("labelsTr")
        var cases: [TrainingCase] = []
        if fm.fileExists(atPath: images.path) {
            for file in try niftiFiles(in: images) {
                let stem = stripExtension(file)
                guard stem.hasSuffix("_0000") else { continue }  // other channels are not used
                let name = String(stem.dropLast(5))
                guard let label = try niftiFiles(in: labels).first(where: { stripExtension($0) == name }) else {
                    throw TrainingDataError(file: images.appendingPathComponent(file).relativePath, message: "has no label map \(name).nii.gz in labelsTr")
                }
                cases.append(TrainingCase(name: name, image: images.appendingPathComponent(file), labels: labels.appendingPathComponent(label)))
            }
        } else {
            let files = try niftiFiles(in: folder)
            for file in files where stripExtension(file).hasSuffix("_image") {
                let name = String(stripExtension(file).dropLast(6))
                guard let label = files.first(where: { stripExtension($0) == name + "_labels" }) else {
                    throw TrainingDataError(file: folder.appendingPathComponent(file).relativePath, message: "has no label map \(name)_labels.nii.gz beside it")
                }
                cases.append(TrainingCase(name: name, image: folder.appendingPathComponent(file), labels: folder.appendingPathComponent(label)))
            }
        }
        guard !cases.isEmpty else {
            throw TrainingDataError(file: folder.relativePath, message: "holds no training cases (expected imagesTr/ + labelsTr/, or NAME_image.nii.gz + NAME_labels.nii.gz)")
        }
        return cases
    }

    /// Reads every case and checks grids and label values against `allowedLabels` (nil: any).
    /// Returns the set of label values found.
    @discardableResult
    public static func validate(_ cases: [TrainingCase], allowedLabels: Set<Int>?) throws -> Set<Int> {
        var found = Set<Int>()
        for c in cases {
            let image = try NIfTIReader.readHeader(c.image)
            let labels = try NIfTIReader.read(c.labels)
            guard image.shape3 == labels.volume.shape else {
                throw TrainingDataError(file: c.labels.relativePath, message: "shape \(labels.volume.shape) differs from its image's \(image.shape3)")
            }
            let difference = image.bestAffine.affine.maxAbsDifference(labels.volume.affine)
            guard difference <= 1e-3 else {
                throw TrainingDataError(file: c.labels.relativePath, message: "affine differs from its image's by \(difference) mm")
            }
            var values = Set<Int>()
            for v in labels.volume.voxels {
                guard v == v.rounded(), v >= 0 else {
                    throw TrainingDataError(file: c.labels.relativePath, message: "holds a non-integer or negative label value \(v)")
                }
                values.insert(Int(v))
            }
            if let allowedLabels {
                let unknown = values.subtracting(allowedLabels).subtracting([0]).sorted()
                guard unknown.isEmpty else {
                    throw TrainingDataError(file: c.labels.relativePath, message: "label values \(unknown) are not in the label table")
                }
            }
            found.formUnion(values)
        }
        return found
    }

    /// NIfTI file names in `folder`, sorted.
    public static func niftiFiles(in folder: URL) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw TrainingDataError(file: folder.relativePath, message: "cannot list the folder")
        }
        return names.filter { $0.hasSuffix(".nii") || $0.hasSuffix(".nii.gz") }.sorted()
    }

    public static func stripExtension(_ name: String) -> String {
        name.hasSuffix(".nii.gz") ? String(name.dropLast(7)) : (name.hasSuffix(".nii") ? String(name.dropLast(4)) : name)
    }
}
