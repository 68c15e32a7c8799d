import Foundation
import LegSegEngine
import Testing

@Suite struct SafetensorsTests {
    @Test("round trip keeps values (exact in f32, rounded in f16/bf16)", arguments: SafetensorsDType.allCases)
    func roundTrip(_ dtype: SafetensorsDType) throws {
        let t = try HostTensor(shape: [2, 3], data: [0, 1, -2.5, 0.1, 65504, 1e-6])
        let data = try SafetensorsFile.serialize(["a.weight": t], dtype: dtype, metadata: ["k": "v"])
        let file = try SafetensorsFile(data: data, path: "mem")
        #expect(file.names == ["a.weight"])
        #expect(file.metadata == ["k": "v"])
        #expect(file.entries["a.weight"]?.dtype == dtype)
        let back = try file.tensor("a.weight")
        #expect(back.shape == [2, 3])
        let expected: [Float]
        switch dtype {
        case .f32: expected = t.data
        case .f16: expected = t.data.map { HalfFloat.float(f16: HalfFloat.f16Bits($0)) }
        case .bf16: expected = t.data.map(HalfFloat.roundedToBF16)
        }
        #expect(back.data == expected)
    }

    @Test func halfPrecisionConversionsAreExactWhereRepresentable() {
        #expect(HalfFloat.float(f16: 0x3C00) == 1)
        #expect(HalfFloat.float(f16: 0xC000) == -2)
        #expect(HalfFloat.float(f16: 0x7BFF) == 65504)
        #expect(HalfFloat.float(f16: 0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(HalfFloat.f16Bits(1) == 0x3C00)
        #expect(HalfFloat.f16Bits(1 + 1.0 / 2048) == 0x3C00, "tie rounds to even")
        #expect(HalfFloat.bf16Bits(1) == 0x3F80)
        #expect(HalfFloat.roundedToBF16(1 + 1.0 / 256) == 1, "tie rounds to even")
    }

    func header(_ json: String, dataBytes: Int) -> Data {
        var d = Data()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(json.utf8))
        d.append(Data(repeating: 0, count: dataBytes))
        return d
    }

    func problem(_ data: Data) -> String? {
        do { _ = try SafetensorsFile(data: data, path: "w.safetensors"); return nil } catch let e as EngineError {
            return e.description
        } catch { return "\(error)" }
    }

    @Test func malformedFilesAreRejectedWithOneLine() {
        #expect(problem(Data([1, 2, 3])) == "w.safetensors: file is 3 bytes, too short for a safetensors header")
        var huge = Data(); withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { huge.append(contentsOf: $0) }
        #expect(problem(huge)?.contains("header length 1099511627776 exceeds the file size") == true)
        #expect(problem(header("{not json", dataBytes: 0)) == "w.safetensors: header is not valid JSON")
        #expect(problem(header(#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, dataBytes: 8))
                == "w.safetensors: tensor \"a\" has dtype I64; LegSeg reads F32, F16 and BF16")
        #expect(problem(header(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8))
                == "w.safetensors: tensor \"a\" data_offsets [0, 16] lie outside the 8-byte data section")
        #expect(problem(header(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8))
                == "w.safetensors: tensor \"a\" shape [3] F32 needs 12 bytes but data_offsets span 8")
        #expect(problem(header(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4))
                == "w.safetensors: tensor \"a\" has no valid shape")
    }

    @Test func sha256MatchesFIPSVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Streaming in odd pieces gives the same digest as one call.
        let big = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var h = SHA256()
        h.update(big.prefix(3)); h.update(big.dropFirst(3).prefix(100)); h.update(big.dropFirst(103))
        #expect(h.finalizeHex() == SHA256.hex(big))
    }
}
