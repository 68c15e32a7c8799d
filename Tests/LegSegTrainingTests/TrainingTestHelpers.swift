import Foundation
import LegSegDNNL
import LegSegEngine
@testable import LegSegTraining
import Testing

enum TrainingFixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }
}

/// Deterministic test data.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> HostTensor {
    var rng = SplitMix64(seed: seed)
    var t = HostTensor(zeros: shape)
    for i in t.data.indices { t.data[i] = Float(rng.normal()) * scale }
    return t
}

/// One input of a gradient check: host values and how they are uploaded.
struct CheckInput {
    var value: HostTensor
    var role: TensorRole
    init(_ value: HostTensor, _ role: TensorRole = .activation) { self.value = value; self.role = role }
}

/// Result of comparing a tape gradient with central finite differences.
struct GradientCheck: CustomStringConvertible {
    var worst = 0.0
    var worstAt = ""
    var checked = 0
    var description: String { "worst scaled error \(worst) at \(worstAt) over \(checked) values" }
}

/// Checks the tape gradients of `f(inputs) = Σ r·op(inputs)` (r a fixed random projection) against central
/// differences of the same f32 forward evaluated with double-precision sums. Error per value:
/// |analytic − numeric| / (absolute + relative·|numeric|). Up to `maxPerInput` values per input are checked.
func checkGradients(_ inputs: [CheckInput], step h: Float = 1e-2, absolute: Double = 2e-3, relative: Double = 2e-2,
                    maxPerInput: Int = 48, seed: UInt64 = 99,
                    _ op: (Tape, [Variable]) throws -> Variable) throws -> GradientCheck {
    let backend = try DNNLBackend()
    func upload(_ values: [HostTensor]) throws -> [any DeviceTensor] {
        try zip(values, inputs).map { try backend.upload($0, role: $1.role, precision: .f32) }
    }
    // The projection r, sized from one forward pass.
    let probeTape = Tape(backend: backend, seed: seed)
    let probe = try op(probeTape, try upload(inputs.map(\.value)).map { probeTape.variable($0) })
    let r = randomTensor(probe.shape, seed: 4242)

    func objective(_ values: [HostTensor]) throws -> Double {
        let tape = Tape(backend: backend, seed: seed)
        let y = try backend.download(try op(tape, try upload(values).map { tape.constant($0) }).value)
        var s = 0.0
        for i in y.data.indices { s += Double(y.data[i]) * Double(r.data[i]) }
        return s
    }

    let tape = Tape(backend: backend, seed: seed)
    let vars = try upload(inputs.map(\.value)).map { tape.variable($0) }
    let y = try op(tape, vars)
    try tape.backward(y, seed: try backend.upload(r, role: .activation, precision: .f32))
    var result = GradientCheck()
    for (k, input) in inputs.enumerated() {
        guard let g = tape.gradient(of: vars[k]) else {
            result.worst = .infinity; result.worstAt = "input \(k): no gradient"; continue
        }
        var analytic = try backend.download(g)
        #expect(analytic.count == input.value.count, "input \(k): gradient has \(analytic.shape), value \(input.value.shape)")
        guard analytic.count == input.value.count else { continue }
        analytic = try analytic.reshaped(input.value.shape)
        let stride = max(1, input.value.count / maxPerInput)
        for i in Swift.stride(from: 0, to: input.value.count, by: stride) {
            var plus = inputs.map(\.value), minus = plus
            plus[k].data[i] += h
            minus[k].data[i] -= h
            let numeric = (try objective(plus) - objective(minus)) / Double(2 * h)
            let error = abs(Double(analytic.data[i]) - numeric) / (absolute + relative * abs(numeric))
            result.checked += 1
            if error > result.worst || error.isNaN {
                result.worst = error
                result.worstAt = "input \(k) index \(i): analytic \(analytic.data[i]), numeric \(numeric)"
            }
        }
    }
    return result
}
