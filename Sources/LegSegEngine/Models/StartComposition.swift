/// The UNet's start convolution is a linear 1×1 map `s(x) = A·x + b` (no normalisation, no activation) read only
/// by encoder block 0. At load time it is composed into that block's first convolution and shortcut: both then
/// read `[x, 1]`, the input with a channel of ones appended, through the weights `W ∘ s` over `Cin + 1` channels,
/// the ones channel carrying `W·b`. The ones channel is zero in the convolution's padding exactly as `s(x)` is
/// there, so the composition is exact up to rounding. At the spec's size this replaces the full-resolution
/// 16-channel start tensor and turns block 0's 16→16 convolution into a 2→16 one (≈ 15 ms of a 560 ms forward).
enum StartComposition {
    /// Composition pays when the composed input (`Cin + 1` channels) is no wider than the start's output.
    static func applies(_ c: UNetConfiguration) -> Bool { c.inputChannels + 1 <= c.startFeatures }

    /// `weight` `[O, S, taps...]` read after the start map `start` `[S, Cin, 1...]` with bias `startBias` `[S]`:
    /// the weights `[O, Cin + 1, taps...]` of the same layer read from `[x, 1]`.
    static func compose(_ weight: HostTensor, start: HostTensor, startBias: HostTensor?) throws -> HostTensor {
        let outputs = weight.shape[0], s = weight.shape[1], cin = start.shape[1]
        guard start.shape[0] == s, start.count == s * cin else {
            throw EngineError.shape("start composition: \(weight.shape) cannot follow the start map \(start.shape)")
        }
        let taps = weight.count / max(outputs * s, 1)
        var out = HostTensor(zeros: [outputs, cin + 1] + weight.shape.dropFirst(2))
        for o in 0..<outputs {
            for k in 0..<s {
                let wRow = (o * s + k) * taps
                for c in 0...cin {
                    let a = c < cin ? start.data[k * cin + c] : (startBias?.data[k] ?? 0)
                    if a == 0 { continue }
                    let oRow = (o * (cin + 1) + c) * taps
                    for t in 0..<taps { out.data[oRow + t] += a * weight.data[wRow + t] }
                }
            }
        }
        return out
    }

    /// `weights` with encoder block 0's first convolution and shortcut composed with the start map.
    static func composedWeights(_ weights: [String: HostTensor]) throws -> [String: HostTensor] {
        guard let a = weights["start.weight"] else { throw EngineError.shape("missing tensor start.weight") }
        var out = weights
        for name in ["encoder.0.block.conv.0.weight", "encoder.0.block.shortcut.weight"] {
            guard let w = weights[name] else { throw EngineError.shape("missing tensor \(name)") }
            out[name] = try compose(w, start: a, startBias: weights["start.bias"])
        }
        return out
    }

    /// `[x, 1]`: `input` `[N, Cin, spatial...]` with a channel of ones appended. `ones` is the previous call's
    /// channel, reused when the shape and precision match (patches of a volume all share them); the one used is
    /// returned for the next call.
    static func withOnesChannel(_ input: any DeviceTensor, ones: (any DeviceTensor)?,
                                backend: any Backend) throws -> (joined: any DeviceTensor, ones: any DeviceTensor) {
        var shape = input.shape
        shape[1] = 1
        let channel: any DeviceTensor
        if let ones, ones.shape == shape, ones.precision == input.precision {
            channel = ones
        } else {
            let host = try HostTensor(shape: shape, data: [Float](repeating: 1, count: shape.reduce(1, *)))
            channel = try backend.upload(host, precision: input.precision)
        }
        return (try backend.concatenateChannels([input, channel]), channel)
    }
}
