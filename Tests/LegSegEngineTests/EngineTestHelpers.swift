import Foundation
import LegSegEngine
import LegSegDNNL
import Testing

/// f32 parity with PyTorch: the bound. Observed errors are ~1e-6; the margin covers different
/// summation orders (blocked/Winograd-free direct convolution vs MKL-DNN/ATen kernels).
let f32Tolerance: Float = 1e-4
/// bf16 parity is judged by the arg-max class, which must agree on at least this fraction of voxels.
let bf16ArgmaxAgreement = 0.999

enum Fixtures {
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func io(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: url(name + ".io.safetensors"))
    }
}

/// One backend per test process: oneDNN primitives and pools are reused across tests in the same thread.
/// Each test makes its own, since Swift Testing may run tests in parallel.
func makeBackend() throws -> DNNLBackend { try DNNLBackend() }

struct Closeness: CustomStringConvertible {
    var maxAbsolute: Float
    var worstIndex: Int
    var overTolerance: Int
    var description: String { "max |Δ| \(maxAbsolute) at flat index \(worstIndex), \(overTolerance) values over tolerance" }
}

/// Compares shapes first, then values; reports the worst element instead of dumping arrays.
func expectClose(_ actual: HostTensor, _ expected: HostTensor, tolerance: Float, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs expected \(expected.shape)",
            sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    var c = Closeness(maxAbsolute: 0, worstIndex: -1, overTolerance: 0)
    for i in 0..<actual.count {
        let d = abs(actual.data[i] - expected.data[i])
        if !(d <= tolerance) { c.overTolerance += 1 }
        if d > c.maxAbsolute || d.isNaN { c.maxAbsolute = d; c.worstIndex = i }
    }
    #expect(c.overTolerance == 0, "\(what): \(c)", sourceLocation: sourceLocation)
}

/// Fraction of positions whose arg-max over channels agrees.
func argmaxAgreement(_ a: HostTensor, _ b: HostTensor) -> Double {
    let x = a.argmaxOverChannels(), y = b.argmaxOverChannels()
    guard x.count == y.count, !x.isEmpty else { return 0 }
    return Double(zip(x, y).filter { $0 == $1 }.count) / Double(x.count)
}
