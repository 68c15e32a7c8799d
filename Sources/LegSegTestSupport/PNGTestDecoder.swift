import Foundation
import LegSegIO

/// A strict decoder for the PNGs LegSeg writes (8-bit greyscale or RGB, no interlace), used by tests to check
/// the encoder independently: CRC-32 and Adler-32 are computed here bit by bit, not through zlib's helpers,
/// and every row's filter type is decoded (all five PNG filters), so any valid encoding would pass.
public struct PNGTestDecoder {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    public let width: Int
    public let height: Int
    /// 1 (grey) or 3 (RGB).
    public let channels: Int
    public let pixels: [UInt8]
    /// Chunk types in file order.
    public let chunkTypes: [String]
    /// The filter byte of each row.
    public let filterTypes: [UInt8]

    public init(_ data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 8, Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { throw Failure(description: "bad signature") }
        var offset = 8
        var types: [String] = [], idat: [UInt8] = [], ihdr: [UInt8] = []
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw Failure(description: "truncated chunk at \(offset)") }
            let length = Int(PNGTestDecoder.bigEndian(bytes, offset))
            guard offset + 12 + length <= bytes.count else { throw Failure(description: "chunk length \(length) past the end") }
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let stored = PNGTestDecoder.bigEndian(bytes, offset + 8 + length)
            let computed = PNGTestDecoder.crc32(Array(bytes[(offset + 4)..<(offset + 8)]) + body)
            guard stored == computed else { throw Failure(description: "\(type) CRC \(stored) != \(computed)") }
            types.append(type)
            if type == "IHDR" { ihdr = body }
            if type == "IDAT" { idat += body }
            offset += 12 + length
            if type == "IEND" { break }
        }
        guard types.first == "IHDR", types.last == "IEND", ihdr.count == 13 else { throw Failure(description: "chunks \(types)") }
        let w = Int(PNGTestDecoder.bigEndian(ihdr, 0)), h = Int(PNGTestDecoder.bigEndian(ihdr, 4))
        guard ihdr[8] == 8, ihdr[10] == 0, ihdr[11] == 0, ihdr[12] == 0 else { throw Failure(description: "unsupported IHDR \(ihdr)") }
        let ch: Int
        switch ihdr[9] { case 0: ch = 1; case 2: ch = 3; default: throw Failure(description: "colour type \(ihdr[9])") }

        // zlib stream: 2-byte header (CM 8, check bits), deflate data, big-endian Adler-32 of the raw bytes.
        guard idat.count >= 6, idat[0] & 0x0F == 8, (UInt16(idat[0]) << 8 | UInt16(idat[1])) % 31 == 0 else { throw Failure(description: "bad zlib header") }
        let rowBytes = w * ch
        var raw: [UInt8] = []
        let inflater = try GzipInflater(Data(idat))
        let got = try inflater.inflate(into: &raw, count: (rowBytes + 1) * h + 1)
        guard got == (rowBytes + 1) * h else { throw Failure(description: "IDAT holds \(got) bytes, expected \((rowBytes + 1) * h)") }
        let adler = PNGTestDecoder.bigEndian(idat, idat.count - 4)
        guard adler == PNGTestDecoder.adler32(raw) else { throw Failure(description: "Adler-32 mismatch") }

        var out = [UInt8](repeating: 0, count: rowBytes * h), filters: [UInt8] = []
        for y in 0..<h {
            let filter = raw[y * (rowBytes + 1)]
            filters.append(filter)
            for x in 0..<rowBytes {
                let value = Int(raw[y * (rowBytes + 1) + 1 + x])
                let a = x >= ch ? Int(out[y * rowBytes + x - ch]) : 0
                let b = y > 0 ? Int(out[(y - 1) * rowBytes + x]) : 0
                let c = (x >= ch && y > 0) ? Int(out[(y - 1) * rowBytes + x - ch]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                default: throw Failure(description: "filter type \(filter) on row \(y)")
                }
                out[y * rowBytes + x] = UInt8((value + predictor) & 0xFF)
            }
        }
        width = w; height = h; channels = ch; pixels = out; chunkTypes = types; filterTypes = filters
    }

    /// The pixel at column `x`, row `y` (from the top-left), one value per channel.
    public func pixel(_ x: Int, _ y: Int) -> [UInt8] {
        let start = (y * width + x) * channels
        return Array(pixels[start..<(start + channels)])
    }

    static func bigEndian(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }

    /// CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), bit by bit.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }
}
