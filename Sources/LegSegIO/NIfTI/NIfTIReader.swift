import Foundation

/// One 3D volume read from a NIfTI file, with the header it came from.
public struct NIfTIImage: Sendable {
    /// Path as given to the reader (used in messages).
    public var path: String
    public var header: NIfTIHeader
    /// Voxel values as float32 after scl_slope/scl_inter; NaN and infinite values are replaced by 0.
    public var volume: Volume<Float>
    /// Which volume of a 4D (or higher) file this is, from 0.
    public var volumeIndex: Int
    public var affineSource: NIfTIHeader.AffineSource
    /// Problems that did not stop the read (each one line, without the file name).
    public var warnings: [String]
}

/// Reads `.nii` and `.nii.gz` files (NIfTI-1 and NIfTI-2, either byte order), in pure Swift.
///
/// Safety: the header is checked before anything else is read, and voxel memory is only allocated for data the
/// file really holds, so a header that lies about its size gives a `NIfTIError`, never a huge allocation or a crash.
public enum NIfTIReader {
    /// Reads volume `volume` (from 0) of the file at `url`.
    public static func read(_ url: URL, volume: Int = 0) throws -> NIfTIImage {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot read file" : "no such file"
            throw NIfTIError(file: url.relativePath, kind: .unreadable, reason)
        }
        return try read(data: data, file: url.relativePath, volume: volume)
    }

    /// Reads only the header of the file at `url` (decompressing just its first bytes).
    public static func readHeader(_ url: URL) throws -> NIfTIHeader {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw NIfTIError(file: url.relativePath, kind: .unreadable, FileManager.default.fileExists(atPath: url.path) ? "cannot read file" : "no such file")
        }
        var source = try ByteSource(data, file: url.relativePath)
        return try NIfTIHeader.decode(try source.prefix(NIfTIHeader.nifti2Size), file: url.relativePath)
    }

    /// Reads volume `volume` from the bytes of a `.nii` or `.nii.gz` file; `file` names it in errors.
    public static func read(data: Data, file: String, volume: Int = 0) throws -> NIfTIImage {
        var bytes = try ByteSource(data, file: file)
        let header = try NIfTIHeader.decode(try bytes.prefix(NIfTIHeader.nifti2Size), file: file)
        let type = header.datatype!  // checked by decode
        guard volume >= 0, volume < header.volumeCount else {
            throw NIfTIError(file: file, kind: .volumeOutOfRange, "volume \(volume) requested but the file holds \(header.volumeCount) volume\(header.volumeCount == 1 ? "" : "s") (0...\(header.volumeCount - 1))")
        }
        let shape = header.shape3
        let voxelCount = shape.reduce(1, *)
        let start = header.voxOffset + volume * header.bytesPerVolume
        let end = start + header.bytesPerVolume
        let available = try bytes.ensure(end)
        if header.voxOffset > available {
            throw NIfTIError(file: file, kind: .badVoxOffset, "vox_offset \(header.voxOffset) lies past the end of the data (\(available) bytes)")
        }
        guard available >= end else {
            let declared = shape.map(String.init).joined(separator: "x")
            throw NIfTIError(file: file, kind: .truncated, "header declares \(declared) \(type) from byte \(start) (\(mib(end)) needed) but the data ends after \(mib(available))")
        }

        var warnings: [String] = []
        var voxels = bytes.withBytes(in: start..<end) { raw in
            decodeVoxels(raw, type: type, count: voxelCount, byteSwapped: header.byteOrder == .big)
        }
        // NIfTI: scaling applies when scl_slope is non-zero (nibabel also ignores a NaN or infinite slope).
        if header.sclSlope != 0, header.sclSlope.isFinite, header.sclInter.isFinite,
           header.sclSlope != 1 || header.sclInter != 0 {
            let slope = Float(header.sclSlope), inter = Float(header.sclInter)
            voxels.withUnsafeMutableBufferPointer { v in for n in v.indices { v[n] = v[n] * slope + inter } }
        }
        let nonFinite = replaceNonFinite(&voxels)
        if nonFinite > 0 { warnings.append("\(nonFinite) voxel\(nonFinite == 1 ? " is" : "s are") NaN or infinite; treated as 0") }

        let (affine, source) = header.bestAffine
        if header.sformCode > 0 && source != .sform {
            warnings.append("sform_code is \(header.sformCode) but the sform matrix is singular or not finite; using the \(source)")
        } else if header.qformCode > 0 && source == .pixdim {
            warnings.append("qform_code is \(header.qformCode) but the qform is not usable; using pixdim")
        }
        if header.sformCode > 0, header.qformCode > 0, source == .sform, header.qformAffine.isUsable {
            let difference = header.qformAffine.maxAbsDifference(header.sformAffine)
            if difference > 1e-3 * max(1, header.sformAffine.m.map(abs).max() ?? 1) {
                warnings.append(String(format: "qform and sform disagree (largest difference %.4g); using the sform as the NIfTI standard says", difference))
            }
        }
        return NIfTIImage(path: file, header: header, volume: Volume(shape: shape, voxels: voxels, affine: affine),
                          volumeIndex: volume, affineSource: source, warnings: warnings)
    }

    /// Converts raw voxels of any supported type to Float.
    static func decodeVoxels(_ raw: UnsafeRawBufferPointer, type: NIfTIDataType, count: Int, byteSwapped: Bool) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialised in
            switch type {
            case .uint8: for n in 0..<count { out[n] = Float(raw[n]) }
            case .int8: for n in 0..<count { out[n] = Float(Int8(bitPattern: raw[n])) }
            case .int16: convert(raw, count, byteSwapped, out) { Float(Int16(bitPattern: $0 as UInt16)) }
            case .uint16: convert(raw, count, byteSwapped, out) { Float($0 as UInt16) }
            case .int32: convert(raw, count, byteSwapped, out) { Float(Int32(bitPattern: $0 as UInt32)) }
            case .uint32: convert(raw, count, byteSwapped, out) { Float($0 as UInt32) }
            case .int64: convert(raw, count, byteSwapped, out) { Float(Int64(bitPattern: $0 as UInt64)) }
            case .float32: convert(raw, count, byteSwapped, out) { Float(bitPattern: $0 as UInt32) }
            case .float64: convert(raw, count, byteSwapped, out) { Float(Double(bitPattern: $0 as UInt64)) }
            }
            initialised = count
        }
    }

    @inline(__always)
    private static func convert<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ count: Int, _ swapped: Bool,
                                                      _ out: UnsafeMutableBufferPointer<Float>, _ f: (T) -> Float) {
        let size = MemoryLayout<T>.size
        if swapped {
            for n in 0..<count { out[n] = f(raw.loadUnaligned(fromByteOffset: n * size, as: T.self).byteSwapped) }
        } else {
            for n in 0..<count { out[n] = f(raw.loadUnaligned(fromByteOffset: n * size, as: T.self)) }
        }
    }

    /// Sets NaN and ±infinity to 0; returns how many there were.
    static func replaceNonFinite(_ voxels: inout [Float]) -> Int {
        var bad = 0
        voxels.withUnsafeMutableBufferPointer { v in
            for n in v.indices where !v[n].isFinite { v[n] = 0; bad += 1 }
        }
        return bad
    }

    private static func mib(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.1f MiB", Double(bytes) / 1048576) : "\(bytes) bytes"
    }
}

/// The file's bytes, decompressed on demand when the file is gzip-compressed.
struct ByteSource {
    private let raw: Data
    private var inflater: GzipInflater?
    private var inflated: [UInt8] = []
    private var exhausted = false
    private let file: String

    init(_ data: Data, file: String) throws {
        raw = data
        self.file = file
        if Gzip.isCompressed(data) {
            do { inflater = try GzipInflater(data) } catch { throw NIfTIError(file: file, kind: .corruptGzip, "\(error)") }
        }
    }

    /// Makes the first `count` bytes available if the file has them; returns how many are available.
    mutating func ensure(_ count: Int) throws -> Int {
        guard let inflater else { return raw.count }
        // Grow in bounded steps so that memory follows what the stream really holds, not what was asked for.
        let step = 1 << 24
        while inflated.count < count && !exhausted {
            do {
                let want = min(step, count - inflated.count)
                let got = try inflater.inflate(into: &inflated, count: want)
                if got < want { exhausted = true }
            } catch let error as GzipError {
                throw NIfTIError(file: file, kind: error.isTruncation ? .truncated : .corruptGzip, error.description)
            }
        }
        return inflated.count
    }

    /// Up to `count` bytes from the start.
    mutating func prefix(_ count: Int) throws -> [UInt8] {
        let available = try ensure(count)
        if inflater != nil { return Array(inflated.prefix(min(count, available))) }
        return [UInt8](raw.prefix(count))
    }

    func withBytes<R>(in range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if inflater != nil {
            return inflated.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
        return raw.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}
