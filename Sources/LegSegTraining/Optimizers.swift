import Foundation
import LegSegEngine

/// How weight decay enters an update: added to the gradient (L2, as PyTorch's `weight_decay` and MXNet's
/// regularisation) or applied to the weights directly (decoupled, AdamW).
public enum WeightDecay: Codable, Sendable, Equatable {
    case none
    case l2(Float)
    case decoupled(Float)
}

/// Gradient clipping before the update.
public enum GradientClipping: Codable, Sendable, Equatable {
    case none
    /// Element-wise to [−c, c] (MXNet's `clip_gradient`, the original's setting with c = 1).
    case value(Float)
    /// Scales all gradients together when their global L2 norm exceeds c (PyTorch's `clip_grad_norm_`).
    case norm(Float)

    /// Clips in place; returns the global norm before clipping.
    @discardableResult
    public func apply(_ gradients: inout [String: HostTensor]) -> Double {
        var sum = 0.0
        for g in gradients.values { g.data.withUnsafeBufferPointer { for v in $0 { sum += Double(v) * Double(v) } } }
        let norm = sum.squareRoot()
        let transform: ((Float) -> Float)?
        switch self {
        case .none: transform = nil
        case .value(let c): transform = { min(max($0, -c), c) }
        case .norm(let c):
            let factor = Double(c) / (norm + 1e-6)
            transform = factor < 1 ? { Float(Double($0) * factor) } : nil
        }
        guard let transform else { return norm }
        for name in Array(gradients.keys) {
            // Taken out of the dictionary so that the buffer is unique and is changed in place.
            var g = gradients.removeValue(forKey: name)!
            g.data.withUnsafeMutableBufferPointer { d in for i in d.indices { d[i] = transform(d[i]) } }
            gradients[name] = g
        }
        return norm
    }
}

/// An optimiser updates f32 master weights in place from their gradients. Its state (moments, step count) is
/// plain tensors so that checkpoints can store it exactly.
public protocol Optimizer: AnyObject {
    var step: Int { get }
    func update(_ parameters: inout [String: HostTensor], gradients: [String: HostTensor], learningRate: Float) throws
    /// Named state tensors (for checkpoints) and their restoration.
    func stateTensors() -> [String: HostTensor]
    func restore(step: Int, state: [String: HostTensor]) throws
}

/// Adam exactly as PyTorch computes it (`torch.optim.Adam`, or `AdamW` with decoupled decay):
/// `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`, `θ ← θ − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)`.
/// The original's settings (spec 4.5): β1 0.9, β2 0.99, ε 1e−5, L2 1e−4.
public final class Adam: Optimizer {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: WeightDecay
    public private(set) var step = 0
    private var m: [String: [Float]] = [:]
    private var v: [String: [Float]] = [:]

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: WeightDecay = .none) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public static func segmentData() -> Adam { Adam(beta1: 0.9, beta2: 0.99, epsilon: 1e-5, weightDecay: .l2(1e-4)) }

    public func update(_ parameters: inout [String: HostTensor], gradients: [String: HostTensor], learningRate lr: Float) throws {
        step += 1
        let c1 = 1 - pow(Double(beta1), Double(step)), c2 = 1 - pow(Double(beta2), Double(step))
        let stepSize = Float(Double(lr) / c1), root2 = Float(c2.squareRoot())
        for name in gradients.keys.sorted() {
            guard var p = parameters[name], let g = gradients[name], g.shape == p.shape else {
                throw TrainingError("Adam: no parameter matching gradient \(name)")
            }
            // Taken out of their dictionaries so that the buffers are unique and are updated in place.
            parameters[name] = nil
            var mm = m.removeValue(forKey: name) ?? [Float](repeating: 0, count: p.count)
            var vv = v.removeValue(forKey: name) ?? [Float](repeating: 0, count: p.count)
            let (beta1, beta2, epsilon, weightDecay) = (self.beta1, self.beta2, self.epsilon, self.weightDecay)
            p.data.withUnsafeMutableBufferPointer { pd in
                g.data.withUnsafeBufferPointer { gd in
                    mm.withUnsafeMutableBufferPointer { md in
                        vv.withUnsafeMutableBufferPointer { vd in
                            for i in pd.indices {
                                var gi = gd[i]
                                switch weightDecay {
                                case .none: break
                                case .l2(let wd): gi += wd * pd[i]
                                case .decoupled(let wd): pd[i] *= 1 - lr * wd
                                }
                                md[i] = beta1 * md[i] + (1 - beta1) * gi
                                vd[i] = beta2 * vd[i] + (1 - beta2) * gi * gi
                                pd[i] -= stepSize * md[i] / (vd[i].squareRoot() / root2 + epsilon)
                            }
                        }
                    }
                }
            }
            m[name] = mm; v[name] = vv
            parameters[name] = p
        }
    }

    public func stateTensors() -> [String: HostTensor] {
        var out: [String: HostTensor] = [:]
        for (name, values) in m { out["m." + name] = try! HostTensor(shape: [values.count], data: values) }
        for (name, values) in v { out["v." + name] = try! HostTensor(shape: [values.count], data: values) }
        return out
    }

    public func restore(step: Int, state: [String: HostTensor]) throws {
        self.step = step
        m = [:]; v = [:]
        for (key, t) in state {
            if key.hasPrefix("m.") { m[String(key.dropFirst(2))] = t.data }
            else if key.hasPrefix("v.") { v[String(key.dropFirst(2))] = t.data }
            else { throw TrainingError("Adam: unknown state tensor \(key)") }
        }
    }
}

/// SGD with momentum as PyTorch computes it: `b ← μ·b + (1−dampening)·g` (b = g at the first step),
/// `θ ← θ − lr·b` (Nesterov: `θ ← θ − lr·(g + μ·b)`).
public final class SGD: Optimizer {
    public var momentum: Float
    public var dampening: Float
    public var nesterov: Bool
    public var weightDecay: WeightDecay
    public private(set) var step = 0
    private var buffers: [String: [Float]] = [:]

    public init(momentum: Float = 0.9, dampening: Float = 0, nesterov: Bool = false, weightDecay: WeightDecay = .none) {
        self.momentum = momentum; self.dampening = dampening; self.nesterov = nesterov; self.weightDecay = weightDecay
    }

    public func update(_ parameters: inout [String: HostTensor], gradients: [String: HostTensor], learningRate lr: Float) throws {
        step += 1
        for name in gradients.keys.sorted() {
            guard var p = parameters[name], let g = gradients[name], g.shape == p.shape else {
                throw TrainingError("SGD: no parameter matching gradient \(name)")
            }
            let first = buffers[name] == nil
            var b = buffers[name] ?? [Float](repeating: 0, count: p.count)
            for i in p.data.indices {
                var gi = g.data[i]
                switch weightDecay {
                case .none: break
                case .l2(let wd): gi += wd * p.data[i]
                case .decoupled(let wd): p.data[i] *= 1 - lr * wd
                }
                if momentum != 0 {
                    b[i] = first ? gi : momentum * b[i] + (1 - dampening) * gi
                    gi = nesterov ? gi + momentum * b[i] : b[i]
                }
                p.data[i] -= lr * gi
            }
            buffers[name] = b
            parameters[name] = p
        }
    }

    public func stateTensors() -> [String: HostTensor] {
        buffers.mapValues { try! HostTensor(shape: [$0.count], data: $0) }.reduce(into: [:]) { $0["momentum." + $1.key] = $1.value }
    }

    public func restore(step: Int, state: [String: HostTensor]) throws {
        self.step = step
        buffers = [:]
        for (key, t) in state {
            guard key.hasPrefix("momentum.") else { throw TrainingError("SGD: unknown state tensor \(key)") }
            buffers[String(key.dropFirst(9))] = t.data
        }
    }
}
