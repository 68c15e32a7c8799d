import Foundation

/// Reads fixed-size fields from header bytes in a given byte order. Callers check the buffer's length first.
struct HeaderBytes {
    let bytes: [UInt8]
    let bigEndian: Bool

    func raw<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
        var v: T = 0
        for n in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: bytes[offset + n]) << (8 * n) }
        return bigEndian ? v.byteSwapped : v
    }
    func i16(_ o: Int) -> Int { Int(Int16(bitPattern: raw(o, UInt16.self))) }
    func i32(_ o: Int) -> Int { Int(Int32(bitPattern: raw(o, UInt32.self))) }
    func i64(_ o: Int) -> Int { Int(Int64(bitPattern: raw(o, UInt64.self))) }
    func f32(_ o: Int) -> Double { Double(Float(bitPattern: raw(o, UInt32.self))) }
    func f64(_ o: Int) -> Double { Double(bitPattern: raw(o, UInt64.self)) }
    func f32s(_ o: Int, _ n: Int) -> [Double] { (0..<n).map { f32(o + 4 * $0) } }
    func f64s(_ o: Int, _ n: Int) -> [Double] { (0..<n).map { f64(o + 8 * $0) } }
    func string(_ o: Int, _ n: Int) -> String {
        let field = bytes[o..<(o + n)]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[o..<end], as: UTF8.self)
    }
}

/// Appends little-endian fields to a header being written.
struct HeaderWriter {
    var bytes: [UInt8]
    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

    mutating func put<T: FixedWidthInteger>(_ o: Int, _ v: T) {
        for n in 0..<MemoryLayout<T>.size { bytes[o + n] = UInt8(truncatingIfNeeded: v >> (8 * n)) }
    }
    mutating func i16(_ o: Int, _ v: Int) { put(o, Int16(clamping: v)) }
    mutating func i32(_ o: Int, _ v: Int) { put(o, Int32(clamping: v)) }
    mutating func f32(_ o: Int, _ v: Double) { put(o, Float(v).bitPattern) }
    mutating func f32s(_ o: Int, _ v: [Double]) { for (n, x) in v.enumerated() { f32(o + 4 * n, x) } }
    mutating func string(_ o: Int, _ n: Int, _ s: String) {
        for (i, b) in s.utf8.prefix(n - 1).enumerated() { bytes[o + i] = b }
    }
}

extension NIfTIHeader {
    static let nifti1Size = 348
    static let nifti2Size = 540

    /// Decodes a header from the first bytes of a file. `bytes` must hold at least 348 bytes, or 540 for NIfTI-2
    /// (the reader asks again with more when `requiredLength` says so). Structural checks (magic, dimensions,
    /// datatype, vox_offset) happen here; every failure is a `NIfTIError` naming `file`.
    static func decode(_ bytes: [UInt8], file: String) throws -> NIfTIHeader {
        guard bytes.count >= 4 else {
            throw NIfTIError(file: file, kind: .truncated, "file is \(bytes.count) bytes, too short for a NIfTI header")
        }
        let little = HeaderBytes(bytes: bytes, bigEndian: false).i32(0)
        let big = HeaderBytes(bytes: bytes, bigEndian: true).i32(0)
        let version: Version, bigEndian: Bool
        switch (little, big) {
        case (348, _): (version, bigEndian) = (.nifti1, false)
        case (_, 348): (version, bigEndian) = (.nifti1, true)
        case (540, _): (version, bigEndian) = (.nifti2, false)
        case (_, 540): (version, bigEndian) = (.nifti2, true)
        default:
            throw NIfTIError(file: file, kind: .notNIfTI, "not a NIfTI file: sizeof_hdr is \(little), expected 348 (NIfTI-1) or 540 (NIfTI-2)")
        }
        let size = version == .nifti1 ? nifti1Size : nifti2Size
        guard bytes.count >= size else {
            throw NIfTIError(file: file, kind: .truncated, "file ends after \(bytes.count) bytes, inside the \(size)-byte NIfTI-\(version.rawValue) header")
        }
        let r = HeaderBytes(bytes: bytes, bigEndian: bigEndian)
        var h = NIfTIHeader()
        h.version = version
        h.byteOrder = bigEndian ? .big : .little
        let magic: [UInt8]
        if version == .nifti1 {
            magic = Array(bytes[344..<348])
            h.dimInfo = bytes[39]
            h.dim = (0..<8).map { r.i16(40 + 2 * $0) }
            h.intentP1 = r.f32(56); h.intentP2 = r.f32(60); h.intentP3 = r.f32(64)
            h.intentCode = r.i16(68)
            h.datatypeCode = r.i16(70)
            h.bitpix = r.i16(72)
            h.sliceStart = r.i16(74)
            h.pixdim = r.f32s(76, 8)
            let offset = r.f32(108)
            guard offset.isFinite, offset == offset.rounded(), offset >= 0, offset < 1e15 else {
                throw NIfTIError(file: file, kind: .badVoxOffset, "vox_offset \(offset) is not a whole number of bytes")
            }
            h.voxOffset = Int(offset)
            h.sclSlope = r.f32(112); h.sclInter = r.f32(116)
            h.sliceEnd = r.i16(120)
            h.sliceCode = Int(bytes[122])
            h.xyztUnits = Int(bytes[123])
            h.calMax = r.f32(124); h.calMin = r.f32(128)
            h.sliceDuration = r.f32(132); h.toffset = r.f32(136)
            h.descrip = r.string(148, 80); h.auxFile = r.string(228, 24)
            h.qformCode = r.i16(252); h.sformCode = r.i16(254)
            h.quaternB = r.f32(256); h.quaternC = r.f32(260); h.quaternD = r.f32(264)
            h.qoffsetX = r.f32(268); h.qoffsetY = r.f32(272); h.qoffsetZ = r.f32(276)
            h.srowX = r.f32s(280, 4); h.srowY = r.f32s(296, 4); h.srowZ = r.f32s(312, 4)
            h.intentName = r.string(328, 16)
            if magic == Array("ni1\0".utf8) {
                throw NIfTIError(file: file, kind: .badMagic, "two-file NIfTI (.hdr/.img pair, magic \"ni1\") is not supported; convert it to a single .nii")
            }
            guard magic == Array("n+1\0".utf8) else {
                throw NIfTIError(file: file, kind: .badMagic, "wrong magic \(printable(magic)) for NIfTI-1, expected \"n+1\"")
            }
        } else {
            magic = Array(bytes[4..<12])
            h.datatypeCode = r.i16(12)
            h.bitpix = r.i16(14)
            h.dim = (0..<8).map { r.i64(16 + 8 * $0) }
            h.intentP1 = r.f64(80); h.intentP2 = r.f64(88); h.intentP3 = r.f64(96)
            h.pixdim = r.f64s(104, 8)
            h.voxOffset = r.i64(168)
            h.sclSlope = r.f64(176); h.sclInter = r.f64(184)
            h.calMax = r.f64(192); h.calMin = r.f64(200)
            h.sliceDuration = r.f64(208); h.toffset = r.f64(216)
            h.sliceStart = r.i64(224); h.sliceEnd = r.i64(232)
            h.descrip = r.string(240, 80); h.auxFile = r.string(320, 24)
            h.qformCode = r.i32(344); h.sformCode = r.i32(348)
            h.quaternB = r.f64(352); h.quaternC = r.f64(360); h.quaternD = r.f64(368)
            h.qoffsetX = r.f64(376); h.qoffsetY = r.f64(384); h.qoffsetZ = r.f64(392)
            h.srowX = r.f64s(400, 4); h.srowY = r.f64s(432, 4); h.srowZ = r.f64s(464, 4)
            h.sliceCode = r.i32(496); h.xyztUnits = r.i32(500); h.intentCode = r.i32(504)
            h.intentName = r.string(508, 16)
            h.dimInfo = bytes[524]
            if Array(magic[0..<4]) == Array("ni2\0".utf8) {
                throw NIfTIError(file: file, kind: .badMagic, "two-file NIfTI-2 (.hdr/.img pair, magic \"ni2\") is not supported; convert it to a single .nii")
            }
            guard Array(magic[0..<4]) == Array("n+2\0".utf8) else {
                throw NIfTIError(file: file, kind: .badMagic, "wrong magic \(printable(Array(magic[0..<4]))) for NIfTI-2, expected \"n+2\"")
            }
        }
        try h.checkStructure(file: file)
        return h
    }

    /// Refuses dimensions, datatypes and offsets that cannot describe a readable image. Nothing here allocates.
    func checkStructure(file: String) throws {
        let n = dim[0]
        guard (1...7).contains(n) else {
            throw NIfTIError(file: file, kind: .badDimensions, "dim[0] is \(n), expected 1 to 7 dimensions")
        }
        for a in 1...n where dim[a] < 1 {
            throw NIfTIError(file: file, kind: .badDimensions, "dimension \(a) has size \(dim[a]); sizes must be at least 1")
        }
        var total = 1
        for a in 1...n {
            let (p, overflow) = total.multipliedReportingOverflow(by: dim[a])
            guard !overflow, p <= 1 << 40 else {
                throw NIfTIError(file: file, kind: .badDimensions, "dimensions \(dim[1...n].map(String.init).joined(separator: "x")) are impossibly large")
            }
            total = p
        }
        guard let type = datatype else {
            throw NIfTIError(file: file, kind: .unsupportedDatatype, "unsupported datatype code \(datatypeCode) (LegSeg reads uint8, int8, int16, uint16, int32, uint32, int64, float32, float64)")
        }
        let minimumOffset = version == .nifti1 ? NIfTIHeader.nifti1Size : NIfTIHeader.nifti2Size
        guard voxOffset >= minimumOffset else {
            throw NIfTIError(file: file, kind: .badVoxOffset, "vox_offset \(voxOffset) lies inside the \(minimumOffset)-byte header")
        }
        guard voxOffset <= 1 << 48 else {
            throw NIfTIError(file: file, kind: .badVoxOffset, "vox_offset \(voxOffset) lies past the end of any real file")
        }
        _ = type
    }

    /// Bytes of one 3D volume.
    var bytesPerVolume: Int { shape3.reduce(1, *) * (datatype?.bytesPerVoxel ?? 1) }

    /// The 348-byte NIfTI-1 header plus the 4-byte empty extension block, little-endian, for a single-file `.nii`.
    func encodeNIfTI1() -> [UInt8] {
        var w = HeaderWriter(size: 352)
        w.i32(0, 348)
        w.bytes[39] = dimInfo
        for (n, d) in dim.prefix(8).enumerated() { w.i16(40 + 2 * n, d) }
        w.f32(56, intentP1); w.f32(60, intentP2); w.f32(64, intentP3)
        w.i16(68, intentCode)
        w.i16(70, datatypeCode)
        w.i16(72, bitpix)
        w.i16(74, sliceStart)
        w.f32s(76, Array(pixdim.prefix(8)))
        w.f32(108, Double(voxOffset))
        w.f32(112, sclSlope); w.f32(116, sclInter)
        w.i16(120, sliceEnd)
        w.bytes[122] = UInt8(clamping: sliceCode)
        w.bytes[123] = UInt8(clamping: xyztUnits)
        w.f32(124, calMax); w.f32(128, calMin)
        w.f32(132, sliceDuration); w.f32(136, toffset)
        w.string(148, 80, descrip); w.string(228, 24, auxFile)
        w.i16(252, qformCode); w.i16(254, sformCode)
        w.f32(256, quaternB); w.f32(260, quaternC); w.f32(264, quaternD)
        w.f32(268, qoffsetX); w.f32(272, qoffsetY); w.f32(276, qoffsetZ)
        w.f32s(280, srowX); w.f32s(296, srowY); w.f32s(312, srowZ)
        w.string(328, 16, intentName)
        for (n, b) in "n+1\0".utf8.enumerated() { w.bytes[344 + n] = b }
        return w.bytes  // bytes 348..<352: extension flag 0 (no extensions)
    }
}

private func printable(_ bytes: [UInt8]) -> String {
    "\"" + bytes.map { (32..<127).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined() + "\""
}
