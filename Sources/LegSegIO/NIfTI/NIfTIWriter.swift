import Foundation

/// Voxel types LegSeg writes: float32 images and uint8 / int16 label maps.
public protocol NIfTIWritableVoxel: Sendable {
    static var niftiDataType: NIfTIDataType { get }
    /// Appends the value's little-endian bytes.
    static func appendBytes(of voxels: [Self], to data: inout Data)
}

extension Float: NIfTIWritableVoxel {
    public static var niftiDataType: NIfTIDataType { .float32 }
    public static func appendBytes(of voxels: [Float], to data: inout Data) {
        voxels.map { $0.bitPattern.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
    }
}

extension UInt8: NIfTIWritableVoxel {
    public static var niftiDataType: NIfTIDataType { .uint8 }
    public static func appendBytes(of voxels: [UInt8], to data: inout Data) { data.append(contentsOf: voxels) }
}

extension Int16: NIfTIWritableVoxel {
    public static var niftiDataType: NIfTIDataType { .int16 }
    public static func appendBytes(of voxels: [Int16], to data: inout Data) {
        voxels.map { $0.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) }
    }
}

/// Writes single-file NIfTI-1 (`.nii`, or gzip-compressed when the name ends in `.gz`), atomically.
public enum NIfTIWriter {
    /// Writes `volume` to `url`.
    ///
    /// With `template` (the header of the image this volume was computed from), the output carries the template's
    /// geometry exactly: qform and sform with their codes, pixdim, units, dim_info and slice fields, so a label
    /// map overlays its source in any viewer. The volume must then be on the template's grid (same 3D shape and,
    /// within 1e-4 mm, the same affine). Without a template, qform and sform are both set from `volume.affine`.
    public static func write<V: NIfTIWritableVoxel>(_ volume: Volume<V>, to url: URL, like template: NIfTIHeader? = nil,
                                                    description: String = "LegSeg") throws {
        let data = try encode(volume, like: template, description: description, file: url.path)
        let bytes: Data
        if url.pathExtension.lowercased() == "gz" {
            do { bytes = try Gzip.compress(data) } catch {
                throw NIfTIError(file: url.path, kind: .cannotWrite, "gzip compression failed: \(error)")
            }
        } else {
            bytes = data
        }
        do { try AtomicFile.write(bytes, to: url) } catch let e as AtomicFileError {
            throw NIfTIError(file: url.path, kind: .cannotWrite, e.message)
        }
    }

    /// The uncompressed `.nii` bytes for `volume`.
    public static func encode<V: NIfTIWritableVoxel>(_ volume: Volume<V>, like template: NIfTIHeader? = nil,
                                                     description: String = "LegSeg", file: String = "<memory>") throws -> Data {
        guard volume.shape.allSatisfy({ (1...32767).contains($0) }) else {
            throw NIfTIError(file: file, kind: .cannotWrite, "shape \(volume.shape) cannot be stored in a NIfTI-1 header (sizes 1 to 32767)")
        }
        var h: NIfTIHeader
        if let template {
            guard template.shape3 == volume.shape else {
                throw NIfTIError(file: file, kind: .cannotWrite, "volume shape \(volume.shape) differs from the template's \(template.shape3); its geometry cannot be carried over")
            }
            let difference = template.bestAffine.affine.maxAbsDifference(volume.affine)
            guard difference <= 1e-4 else {
                throw NIfTIError(file: file, kind: .cannotWrite, "volume affine differs from the template's by \(difference) mm; its geometry cannot be carried over")
            }
            h = template
            h.version = .nifti1
            h.byteOrder = .little
            h.dim = [3] + volume.shape + [1, 1, 1, 1]
            // Keep a 4D source's repetition time out of a 3D output but keep pixdim[0...3] exactly.
            h.pixdim = Array(template.pixdim.prefix(4)) + [0, 0, 0, 0]
            h.intentCode = 0; h.intentP1 = 0; h.intentP2 = 0; h.intentP3 = 0; h.intentName = ""
        } else {
            h = NIfTIHeader()
            h.dim = [3] + volume.shape + [1, 1, 1, 1]
            h.xyztUnits = 2 | 8  // millimetres, seconds
            h.setGeometry(from: volume.affine)
        }
        h.datatypeCode = V.niftiDataType.rawValue
        h.bitpix = V.niftiDataType.bytesPerVoxel * 8
        h.voxOffset = 352
        h.sclSlope = 1
        h.sclInter = 0
        h.calMin = 0; h.calMax = 0
        h.descrip = description
        var data = Data(h.encodeNIfTI1())
        data.reserveCapacity(352 + volume.count * V.niftiDataType.bytesPerVoxel)
        V.appendBytes(of: volume.voxels, to: &data)
        return data
    }
}
