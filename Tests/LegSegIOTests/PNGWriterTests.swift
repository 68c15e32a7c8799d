import Foundation
import Testing
import LegSegIO
import LegSegTestSupport

/// The PNG encoder, checked by an independent decoder (bitwise CRC-32 and Adler-32, all five row filters).
@Suite struct PNGWriterTests {
    static func pattern(_ width: Int, _ height: Int, _ channels: Int) -> [UInt8] {
        (0..<(width * height * channels)).map { n in UInt8((n * 37 + n / 7) & 0xFF) }
    }

    @Test(arguments: [PNGImage.ColorType.grey, .rgb])
    func roundTripsThroughAnIndependentDecoder(_ type: PNGImage.ColorType) throws {
        let image = PNGImage(width: 13, height: 5, colorType: type, pixels: Self.pattern(13, 5, type.channels))
        let data = try PNGWriter.encode(image)
        let decoded = try PNGTestDecoder(data)
        #expect(decoded.width == 13 && decoded.height == 5 && decoded.channels == type.channels)
        #expect(decoded.pixels == image.pixels)
        #expect(decoded.chunkTypes == ["IHDR", "IDAT", "IEND"])
        #expect(decoded.filterTypes == [UInt8](repeating: 0, count: 5))
        // For the PIL cross-check (Tests/LegSegPipelineTests/Fixtures/check_png_with_pil.py), not run in CI.
        if let out = ProcessInfo.processInfo.environment["LEGSEG_PNG_OUT"] {
            try PNGWriter.write(image, to: URL(fileURLWithPath: out).appendingPathComponent("pattern_\(type.channels).png"))
        }
    }

    @Test func idatIsAZlibStreamAndChunkCRCsMatchAKnownValue() throws {
        let data = [UInt8](try PNGWriter.encode(PNGImage(width: 1, height: 1, colorType: .grey, pixels: [200])))
        // IHDR of a 1x1 8-bit greyscale image; its CRC is that of every such file (e.g. written by libpng).
        #expect(Array(data[8..<33]) == [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0,
                                        0x3A, 0x7E, 0x9B, 0x55])
        #expect(data[41] == 0x78)  // zlib header (deflate, 32K window), not gzip's 1f 8b
        // IEND is always the same 12 bytes.
        #expect(Array(data.suffix(12)) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
        #expect(PNGTestDecoder.crc32(Array("IEND".utf8)) == 0xAE42_6082)
    }

    @Test func largeFlatImagesCompress() throws {
        let image = PNGImage(width: 640, height: 480, colorType: .rgb, repeating: 17)
        let data = try PNGWriter.encode(image)
        #expect(data.count < 10_000)
        #expect(try PNGTestDecoder(data).pixels == image.pixels)
    }

    @Test func writesAtomicallyAndNamesTheFileOnFailure() throws {
        let dir = try TestSupport.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = PNGImage(width: 3, height: 2, colorType: .grey, pixels: [0, 50, 100, 150, 200, 250])
        let url = dir.appendingPathComponent("qc.png")
        try PNGWriter.write(image, to: url)
        #expect(try PNGTestDecoder(Data(contentsOf: url)).pixels == image.pixels)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["qc.png"])  // no temporary left
        let missing = dir.appendingPathComponent("no/such/folder/qc.png")
        do {
            try PNGWriter.write(image, to: missing)
            Issue.record("expected an error")
        } catch let error as PNGError {
            #expect(error.description.hasPrefix(missing.path + ": "))
        }
    }
}
