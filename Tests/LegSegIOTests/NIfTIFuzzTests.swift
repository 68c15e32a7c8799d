import Foundation
import Testing
@testable import LegSegIO

/// Randomised robustness: mutated headers and gzip streams must give an error or an image, never a crash
/// (a crash here, e.g. an overflow trap or an out-of-bounds read, would kill the test process).
@Suite struct NIfTIFuzzTests {
    /// Small deterministic generator (SplitMix64), so a failure reproduces from its iteration number.
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { precondition(n > 0); return Int(next() % UInt64(n)) }
    }

    /// Header fields worth aiming at (offsets in a NIfTI-1 header): sizes, dims, datatype, bitpix,
    /// pixdim, vox_offset, scaling, codes, quaternion, srows, magic.
    static let hotOffsets = [0, 1, 2, 3, 40, 41, 42, 43, 44, 45, 46, 48, 50, 70, 71, 72, 76, 80, 108, 109, 110, 111,
                             112, 115, 116, 252, 254, 256, 260, 280, 296, 312, 344, 345, 346]

    func mutate(_ original: Data, rng: inout SplitMix64, region: Int) -> Data {
        var d = original
        let edits = 1 + rng.below(4)
        for _ in 0..<edits {
            switch rng.below(6) {
            case 0: // random byte anywhere in the region
                if !d.isEmpty { let i = rng.below(min(region, d.count)); d[i] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1: // a hot header byte
                let i = Self.hotOffsets[rng.below(Self.hotOffsets.count)]
                if i < d.count { d[i] = UInt8(truncatingIfNeeded: rng.next()) }
            case 2: // extreme 16/32-bit values in a hot field
                let i = Self.hotOffsets[rng.below(Self.hotOffsets.count)]
                let extremes: [UInt32] = [0, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x7FFF, 0x8000, 0x7FC0_0000, 0x7F80_0000]
                let v = extremes[rng.below(extremes.count)]
                for n in 0..<4 where i + n < d.count { d[i + n] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(n))) }
            case 3: // truncate
                d = d.prefix(rng.below(d.count + 1))
            case 4: // flip a bit
                if !d.isEmpty { let i = rng.below(min(region, d.count)); d[i] ^= UInt8(1 << rng.below(8)) }
            default: // append garbage
                d.append(contentsOf: (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            }
        }
        return d
    }

    func exercise(_ data: Data, _ name: String) -> Bool {
        do {
            let image = try NIfTIReader.read(data: data, file: name)
            _ = image.volume.orientation
            _ = image.volume.reoriented(to: .canonical)
            return true
        } catch is NIfTIError {
            return false
        } catch {
            Issue.record("\(name): unexpected error type \(type(of: error)): \(error)")
            return false
        }
    }

    @Test func tenThousandMutatedHeadersNeverCrash() throws {
        var rng = SplitMix64(state: 1)
        let seeds = ["dtype_int16.nii", "dtype_float64.nii", "nifti2_big.nii", "fourd_float32.nii.gz", "scaled_int16.nii"]
        let originals = try seeds.map { name -> Data in
            let d = try Data(contentsOf: Fixtures.valid.appendingPathComponent(name))
            // Mutate the uncompressed bytes here; compressed streams get their own test.
            return Gzip.isCompressed(d) ? Data(try NIfTIReader.read(data: d, file: name).rawFile()) : d
        }
        var accepted = 0
        for iteration in 0..<10_000 {
            let pick = iteration % originals.count
            let mutated = mutate(originals[pick], rng: &rng, region: 560)
            if exercise(mutated, "header-mutant-\(iteration)") { accepted += 1 }
        }
        // Some mutations hit irrelevant bytes and must still read; most hit checked fields and must be refused.
        #expect(accepted > 100 && accepted < 10_000)
    }

    @Test func tenThousandMutatedGzipStreamsNeverCrash() throws {
        var rng = SplitMix64(state: 2)
        let plain = try Data(contentsOf: Fixtures.valid.appendingPathComponent("dtype_float32.nii"))
        let compressed = try Gzip.compress(plain)
        var accepted = 0
        for iteration in 0..<10_000 {
            let mutated = mutate(compressed, rng: &rng, region: compressed.count)
            if exercise(mutated, "gzip-mutant-\(iteration)") { accepted += 1 }
        }
        #expect(accepted < 10_000)
    }
}

extension NIfTIImage {
    /// Re-encodes a NIfTI-1 fixture read from a `.nii.gz` as plain bytes (for the header fuzzer).
    func rawFile() throws -> Data { try NIfTIWriter.encode(volume, like: header) }
}
