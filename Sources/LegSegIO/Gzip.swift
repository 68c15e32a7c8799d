import CZlib
import Foundation

/// gzip (de)compression through zlib. Compression is chosen by the file's content on read (gzip magic bytes)
/// and by the `.gz` extension on write, in one place each.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes 1f 8b.
    public static func isCompressed(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// Compresses `data` into a gzip stream. Level 1 by default: NIfTI volumes are large and mostly
    /// compress well at the fastest level (as nibabel also chooses).
    public static func compress(_ data: Data, level: Int32 = 1) throws -> Data {
        var stream = z_stream()
        guard legseg_deflate_init_gzip(&stream, level) == Z_OK else { throw GzipError("deflateInit2 failed") }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(data.count))) + 64
        var out = Data(count: bound)
        let produced: Int = try data.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            try out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
                stream.avail_in = uInt(data.count)
                stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress
                stream.avail_out = uInt(bound)
                let status = deflate(&stream, Z_FINISH)
                guard status == Z_STREAM_END else { throw GzipError("deflate failed (zlib status \(status))") }
                return Int(stream.total_out)
            }
        }
        out.count = produced
        return out
    }
}

/// A gzip or zlib failure; `GzipInflater` callers add the file name.
public struct GzipError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// True when the stream simply ends too early (as opposed to holding invalid data).
    public let isTruncation: Bool
    init(_ message: String, truncated: Bool = false) { description = message; isTruncation = truncated }
}

/// Streaming gzip decompression that produces only as many bytes as are asked for, so a header that lies about
/// the data size never makes LegSeg allocate more than the compressed stream really holds. Concatenated gzip
/// members (as written by some tools) are read as one stream.
public final class GzipInflater {
    private var stream = z_stream()
    private let input: Data
    private var consumed = 0
    private var finished = false
    private var initialised = false

    public init(_ compressed: Data) throws {
        input = compressed
        guard legseg_inflate_init_auto(&stream) == Z_OK else { throw GzipError("inflateInit2 failed") }
        initialised = true
    }

    deinit { if initialised { inflateEnd(&stream) } }

    /// Appends up to `count` more decompressed bytes to `out`; returns how many were appended (fewer only at the
    /// end of the stream). Throws on a corrupt or truncated stream.
    @discardableResult
    public func inflate(into out: inout [UInt8], count: Int) throws -> Int {
        guard count > 0, !finished else { return 0 }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count))  // grows only by what the caller asked for
        var written = 0
        try input.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            try out.withUnsafeMutableBytes { (dst: UnsafeMutableRawBufferPointer) in
                let base = src.bindMemory(to: Bytef.self).baseAddress
                while written < count {
                    if consumed >= input.count { throw GzipError("gzip stream is truncated (ends before the data does)", truncated: true) }
                    let chunkIn = min(input.count - consumed, Int(UInt32.max))
                    stream.next_in = UnsafeMutablePointer(mutating: base! + consumed)
                    stream.avail_in = uInt(chunkIn)
                    let chunkOut = min(count - written, Int(UInt32.max))
                    stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress! + start + written
                    stream.avail_out = uInt(chunkOut)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    consumed += chunkIn - Int(stream.avail_in)
                    written += chunkOut - Int(stream.avail_out)
                    switch status {
                    case Z_OK:
                        continue
                    case Z_BUF_ERROR:
                        // No progress possible: all input was consumed before the stream ended.
                        throw GzipError("gzip stream is truncated (ends before the data does)", truncated: true)
                    case Z_STREAM_END:
                        // Another gzip member may follow (concatenated .gz); otherwise the stream is done.
                        if consumed < input.count && src[consumed] == 0x1f {
                            guard inflateReset(&stream) == Z_OK else { throw GzipError("inflateReset failed") }
                        } else {
                            finished = true
                            return
                        }
                    default:
                        let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                        throw GzipError("corrupt gzip stream (\(reason))")
                    }
                }
            }
        }
        out.removeLast(count - written)
        return written
    }
}
