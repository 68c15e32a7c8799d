import Foundation

/// A value on a `Tape`: a device tensor plus whether gradients flow back to it.
public final class Variable {
    public let value: any DeviceTensor
    public let requiresGradient: Bool
    let id: Int
    public var shape: [Int] { value.shape }

    init(_ value: any DeviceTensor, requiresGradient: Bool, id: Int) {
        self.value = value
        self.requiresGradient = requiresGradient
        self.id = id
    }
}

/// Reverse-mode automatic differentiation with eager execution and an explicit tape. Every differentiable op
/// (see `Tape+Ops.swift`) computes its output on the backend at once and records a pullback: a closure that
/// maps the gradient of the output to gradients of those inputs that need one. `backward` replays the
/// pullbacks in reverse order and sums the gradients of values used more than once.
///
/// `training` selects train or eval behaviour (batch statistics and active dropout vs running statistics and
/// identity); in eval mode nothing is recorded. A tape is used for one step and then dropped (it keeps the
/// forward activations its pullbacks need alive).
public final class Tape {
    public typealias Pullback = (_ gradient: any DeviceTensor, _ needs: [Bool]) throws -> [(any DeviceTensor)?]

    struct Record {
        let output: Variable
        let inputs: [Variable]
        let pullback: Pullback
    }

    public let backend: any TrainingBackend
    public let precision: Precision
    public let training: Bool
    private var records: [Record] = []
    private var gradients: [Int: any DeviceTensor] = [:]
    private var nextID = 0
    /// Random state for dropout masks (SplitMix64), seeded per tape so steps are reproducible.
    public var random: SplitMix64

    public init(backend: any TrainingBackend, precision: Precision = .f32, training: Bool = true, seed: UInt64 = 0) {
        self.backend = backend
        self.precision = precision
        self.training = training
        self.random = SplitMix64(seed: seed)
    }

    /// A value that gradients flow to (a parameter or an input under test).
    public func variable(_ tensor: any DeviceTensor) -> Variable { make(tensor, requiresGradient: true) }
    /// A value that needs no gradient (input data).
    public func constant(_ tensor: any DeviceTensor) -> Variable { make(tensor, requiresGradient: false) }

    func make(_ tensor: any DeviceTensor, requiresGradient: Bool) -> Variable {
        nextID += 1
        return Variable(tensor, requiresGradient: requiresGradient, id: nextID)
    }

    /// Records `output = f(inputs)` with its pullback; the output needs a gradient when any input does.
    public func record(_ output: any DeviceTensor, inputs: [Variable], pullback: @escaping Pullback) -> Variable {
        let needs = training && inputs.contains { $0.requiresGradient }
        let v = make(output, requiresGradient: needs)
        if needs { records.append(Record(output: v, inputs: inputs, pullback: pullback)) }
        return v
    }

    /// Propagates `seed` (the gradient of the loss with respect to `output`) back through the tape.
    public func backward(_ output: Variable, seed: any DeviceTensor) throws {
        try backward([(output, seed)])
    }

    /// Backward from several outputs at once (e.g. the heads of a classifier), each with its seed.
    public func backward(_ seeds: [(output: Variable, seed: any DeviceTensor)]) throws {
        for (output, seed) in seeds {
            guard seed.shape == output.shape else {
                throw EngineError.shape("backward: seed \(seed.shape) does not match output \(output.shape)")
            }
            try accumulate(output.id, seed)
        }
        for record in records.reversed() {
            guard let g = gradients[record.output.id] else { continue }
            let needs = record.inputs.map(\.requiresGradient)
            let grads = try record.pullback(g, needs)
            for (input, grad) in zip(record.inputs, grads) where input.requiresGradient {
                if let grad { try accumulate(input.id, grad) }
            }
            // Intermediate gradients are not needed once consumed.
            gradients[record.output.id] = nil
        }
        records.removeAll()
    }

    private func accumulate(_ id: Int, _ g: any DeviceTensor) throws {
        if let existing = gradients[id] {
            gradients[id] = try backend.addGradients(existing, g)
        } else {
            gradients[id] = g
        }
    }

    /// The gradient accumulated for `v` by `backward` (nil when none reached it).
    public func gradient(of v: Variable) -> (any DeviceTensor)? { gradients[v.id] }
}

/// A small, fast, seedable generator (SplitMix64) for reproducible masks and initialisation.
public struct SplitMix64: RandomNumberGenerator, Sendable, Codable, Equatable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
