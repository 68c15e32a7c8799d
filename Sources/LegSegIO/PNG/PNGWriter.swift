import CZlib
import Foundation

/// An 8-bit image in memory: rows top to bottom, pixels left to right, channels interleaved.
public struct PNGImage: Equatable, Sendable {
    public enum ColorType: UInt8, Sendable {
        case grey = 0
        case rgb = 2

        public var channels: Int { self == .grey ? 1 : 3 }
    }

    public let width: Int
    public let height: Int
    public let colorType: ColorType
    /// `width * height * colorType.channels` bytes, row-major from the top-left pixel.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, colorType: ColorType, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "PNG images need at least one pixel")
        precondition(pixels.count == width * height * colorType.channels, "pixel count does not match \(width)x\(height)x\(colorType.channels)")
        self.width = width
        self.height = height
        self.colorType = colorType
        self.pixels = pixels
    }

    public init(width: Int, height: Int, colorType: ColorType, repeating value: UInt8 = 0) {
        self.init(width: width, height: height, colorType: colorType,
                  pixels: [UInt8](repeating: value, count: width * height * colorType.channels))
    }
}

/// A minimal PNG encoder (8-bit greyscale or RGB, no interlace), for QC pictures. Rows use filter type 0 (none):
/// QC montages are small and deflate handles their flat regions well, so adaptive filtering is not worth its code.
public enum PNGWriter {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The complete PNG file bytes for `image`.
    public static func encode(_ image: PNGImage, level: Int32 = 6, file: String = "<memory>") throws -> Data {
        guard image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw PNGError(file: file, message: "image \(image.width)x\(image.height) is too large for PNG")
        }
        var out = Data(signature)

        var header = Data()
        appendBigEndian(UInt32(image.width), to: &header)
        appendBigEndian(UInt32(image.height), to: &header)
        header.append(contentsOf: [8, image.colorType.rawValue, 0, 0, 0])  // bit depth, colour type, deflate, filter set 0, no interlace
        appendChunk("IHDR", header, to: &out)

        // Scanlines: one filter byte (0) before each row.
        let rowBytes = image.width * image.colorType.channels
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * image.height)
        image.pixels.withUnsafeBufferPointer { src in
            raw.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let d = y * (rowBytes + 1) + 1
                    let s = y * rowBytes
                    for n in 0..<rowBytes { dst[d + n] = src[s + n] }
                }
            }
        }
        appendChunk("IDAT", try zlibCompress(raw, level: level, file: file), to: &out)
        appendChunk("IEND", Data(), to: &out)
        return out
    }

    /// Writes `image` to `url` atomically (temporary file, then rename).
    public static func write(_ image: PNGImage, to url: URL) throws {
        let data = try encode(image, file: url.path)
        do { try AtomicFile.write(data, to: url) } catch let e as AtomicFileError {
            throw PNGError(file: url.path, message: e.message)
        }
    }

    /// A zlib stream (RFC 1950: header, deflate data, Adler-32), which is what IDAT holds — not gzip.
    static func zlibCompress(_ bytes: [UInt8], level: Int32, file: String) throws -> Data {
        var bound = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let status = out.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &bound, src.baseAddress, uLong(bytes.count), level)
            }
        }
        guard status == Z_OK else { throw PNGError(file: file, message: "zlib compression failed (status \(status))") }
        return Data(out[0..<Int(bound)])
    }

    static func appendChunk(_ type: String, _ payload: Data, to out: inout Data) {
        let typeBytes = Array(type.utf8)
        appendBigEndian(UInt32(payload.count), to: &out)
        out.append(contentsOf: typeBytes)
        out.append(payload)
        // The CRC covers the chunk type and its data, not the length.
        var crc = crc32(0, typeBytes, uInt(typeBytes.count))
        payload.withUnsafeBytes { p in
            if let base = p.bindMemory(to: Bytef.self).baseAddress { crc = crc32(crc, base, uInt(payload.count)) }
        }
        appendBigEndian(UInt32(crc), to: &out)
    }

    static func appendBigEndian(_ value: UInt32, to data: inout Data) {
        data.append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}

/// A PNG could not be encoded or written.
public struct PNGError: LegSegError {
    public let file: String?
    public let message: String
    public init(file: String?, message: String) { self.file = file; self.message = message }
    public var description: String { "\(file ?? "?"): \(message)" }
}
