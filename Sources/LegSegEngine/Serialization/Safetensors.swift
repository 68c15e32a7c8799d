import Foundation

/// Element types LegSeg reads from and writes to safetensors files.
public enum SafetensorsDType: String, Sendable, Codable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    public var byteCount: Int { self == .f32 ? 4 : 2 }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsEntry: Equatable, Sendable {
    public var dtype: SafetensorsDType
    public var shape: [Int]
    /// Byte range inside the data section (after the header).
    public var range: Range<Int>
}

/// A parsed safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`, then the data.
/// Every offset is checked against the file; values are converted to f32 on access.
public struct SafetensorsFile: Sendable {
    public let path: String
    public let entries: [String: SafetensorsEntry]
    public let metadata: [String: String]
    private let bytes: Data
    private let dataStart: Int

    /// Parses `data` (the whole file). `path` is used in error messages only.
    public init(data: Data, path: String) throws {
        self.path = path
        func fail(_ problem: String) -> EngineError { .safetensors(file: path, problem: problem) }
        guard data.count >= 8 else { throw fail("file is \(data.count) bytes, too short for a safetensors header") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw fail("header length \(headerLength) exceeds the file size \(data.count)")
        }
        let headerStart = data.startIndex + 8
        let headerData = data.subdata(in: headerStart..<(headerStart + Int(headerLength)))
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerData) } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }
        let dataLength = data.count - 8 - Int(headerLength)
        var entries: [String: SafetensorsEntry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let meta = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in meta {
                    guard let s = v as? String else { throw fail("__metadata__ value for \"\(k)\" is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("entry \"\(name)\" is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw fail("tensor \"\(name)\" has no dtype") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail("tensor \"\(name)\" has dtype \(dtypeName); LegSeg reads F32, F16 and BF16")
            }
            guard let shapeValues = info["shape"] as? [Any],
                  let shape = Self.integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor \"\(name)\" has no valid shape")
            }
            guard let offsetValues = info["data_offsets"] as? [Any], let offsets = Self.integers(offsetValues),
                  offsets.count == 2 else {
                throw fail("tensor \"\(name)\" has no valid data_offsets")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("tensor \"\(name)\" data_offsets [\(begin), \(end)] lie outside the \(dataLength)-byte data section")
            }
            var elements = 1
            for d in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \"\(name)\" shape \(shape) overflows") }
                elements = product
            }
            guard elements * dtype.byteCount == end - begin else {
                throw fail("tensor \"\(name)\" shape \(shape) \(dtype.rawValue) needs \(elements * dtype.byteCount) bytes but data_offsets span \(end - begin)")
            }
            entries[name] = SafetensorsEntry(dtype: dtype, shape: shape, range: begin..<end)
        }
        self.entries = entries
        self.metadata = metadata
        self.bytes = data
        self.dataStart = data.startIndex + 8 + Int(headerLength)
    }

    /// Reads and parses a file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw EngineError.safetensors(file: url.path, problem: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(data: data, path: url.path)
    }

    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for v in values {
            guard let n = v as? NSNumber, let exact = Int(exactly: n.doubleValue),
                  n.doubleValue.rounded() == n.doubleValue else { return nil }
            result.append(exact)
        }
        return result
    }

    public var names: [String] { entries.keys.sorted() }

    /// The tensor `name` converted to f32.
    public func tensor(_ name: String) throws -> HostTensor {
        guard let entry = entries[name] else {
            throw EngineError.safetensors(file: path, problem: "no tensor named \"\(name)\"")
        }
        let count = entry.shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        let start = dataStart + entry.range.lowerBound
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress!.advanced(by: start - bytes.startIndex)
            switch entry.dtype {
            case .f32:
                for i in 0..<count {
                    values[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case .f16:
                for i in 0..<count {
                    values[i] = HalfFloat.float(f16: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    values[i] = HalfFloat.float(bf16: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            }
        }
        return try HostTensor(shape: entry.shape, data: values)
    }

    /// Serialises tensors as a safetensors file (names sorted, data 8-byte aligned as the format recommends).
    public static func serialize(_ tensors: [String: HostTensor], dtype: SafetensorsDType = .f32,
                                 metadata: [String: String] = [:]) throws -> Data {
        var headerParts: [String] = []
        if !metadata.isEmpty {
            let meta = try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys])
            headerParts.append("\"__metadata__\":" + String(decoding: meta, as: UTF8.self))
        }
        var offset = 0
        var body = Data()
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            let size = t.count * dtype.byteCount
            let quotedName = String(decoding: try JSONSerialization.data(withJSONObject: [name], options: []), as: UTF8.self).dropFirst().dropLast()
            headerParts.append("\(quotedName):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
            body.reserveCapacity(offset)
            switch dtype {
            case .f32:
                for v in t.data { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            case .f16:
                for v in t.data { withUnsafeBytes(of: HalfFloat.f16Bits(v).littleEndian) { body.append(contentsOf: $0) } }
            case .bf16:
                for v in t.data { withUnsafeBytes(of: HalfFloat.bf16Bits(v).littleEndian) { body.append(contentsOf: $0) } }
            }
        }
        var header = Data(("{" + headerParts.joined(separator: ",") + "}").utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(header)
        file.append(body)
        return file
    }
}
