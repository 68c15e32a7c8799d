import Foundation
import LegSegEngine
import LegSegDNNL
import Testing

/// Single operations against PyTorch (Fixtures/ops.json, made by Reference/pytorch/make_fixtures.py).
struct OpCase: Decodable, Sendable, CustomStringConvertible {
    var name: String
    var op: String
    var stride: [Int]?
    var padding: [Int]?
    var dilation: [Int]?
    var outputPadding: [Int]?
    var activation: String?
    var activationParameter: Float?
    var epsilon: Float?
    var kind: String?
    var kernel: [Int]?
    var factors: [Int]?
    var mode: String?
    var description: String { name }

    static let all: [OpCase] = {
        struct File: Decodable { var cases: [OpCase] }
        let data = try! Data(contentsOf: Fixtures.url("ops.json"))
        return try! JSONDecoder().decode(File.self, from: data).cases
    }()
}

@Suite struct OpsParityTests {
    static let tensors = try! SafetensorsFile(contentsOf: Fixtures.url("ops.safetensors"))

    func tensor(_ c: OpCase, _ n: String) throws -> HostTensor { try Self.tensors.tensor("\(c.name).\(n)") }
    func has(_ c: OpCase, _ n: String) -> Bool { Self.tensors.entries["\(c.name).\(n)"] != nil }

    func run(_ c: OpCase, backend b: DNNLBackend, precision: Precision) throws -> HostTensor {
        let x = try b.upload(try tensor(c, "input"), role: .activation, precision: precision)
        let activation = try Activation(name: c.activation ?? "identity", parameter: c.activationParameter)
        func vector(_ n: String) throws -> any DeviceTensor { try b.upload(try tensor(c, n), role: .vector, precision: .f32) }
        let y: any DeviceTensor
        switch c.op {
        case "convolution", "transposedConvolution":
            let transposed = c.op == "transposedConvolution"
            let wHost = try tensor(c, "weight")
            let w = try b.upload(wHost, role: transposed ? .transposedConvolutionWeight : .convolutionWeight, precision: precision)
            let bias = has(c, "bias") ? try vector("bias") : nil
            let residual = has(c, "residual") ? try b.upload(try tensor(c, "residual"), role: .activation, precision: precision) : nil
            let g = ConvolutionGeometry(kernel: Array(wHost.shape.dropFirst(2)), stride: c.stride, padding: c.padding,
                                        dilation: c.dilation, outputPadding: c.outputPadding)
            let e = Epilogue(activation: activation, residual: residual)
            y = transposed ? try b.transposedConvolution(x, weight: w, bias: bias, geometry: g, epilogue: e)
                           : try b.convolution(x, weight: w, bias: bias, geometry: g, epilogue: e)
        case "instanceNormalization":
            y = try b.instanceNormalization(x, scale: try vector("scale"), shift: try vector("shift"), epsilon: c.epsilon!)
        case "batchNormalization":
            y = try b.batchNormalization(x, scale: try vector("scale"), shift: try vector("shift"), mean: try vector("mean"),
                                         variance: try vector("variance"), epsilon: c.epsilon!)
        case "activation": y = try b.activation(x, activation)
        case "softmax": y = try b.softmaxOverChannels(x)
        case "pooling":
            y = try b.pooling(x, geometry: PoolingGeometry(kind: PoolingKind(rawValue: c.kind!)!, kernel: c.kernel!,
                                                           stride: c.stride, padding: c.padding))
        case "globalAveragePooling": y = try b.globalAveragePooling(x)
        case "dense":
            let w = try b.upload(try tensor(c, "weight"), role: .denseWeight, precision: precision)
            y = try b.dense(x, weight: w, bias: try vector("bias"), epilogue: Epilogue(activation: activation))
        case "concatenate":
            y = try b.concatenateChannels([x, try b.upload(try tensor(c, "second"), role: .activation, precision: precision)])
        case "add":
            y = try b.add(x, try b.upload(try tensor(c, "second"), role: .activation, precision: precision), activation: activation)
        case "upsample":
            y = try b.upsample(x, factors: c.factors!, mode: UpsamplingMode(rawValue: c.mode!)!)
        default:
            throw EngineError.unsupported("unknown op \(c.op) in ops.json")
        }
        return try b.download(y)
    }

    @Test("f32 operation matches PyTorch within 1e-4", arguments: OpCase.all)
    func f32Parity(_ c: OpCase) throws {
        let b = try makeBackend()
        let y = try run(c, backend: b, precision: .f32)
        expectClose(y, try tensor(c, "output"), tolerance: f32Tolerance, c.name)
    }

    @Test("bf16 operation stays within bf16 rounding of PyTorch's f32 result", arguments: OpCase.all)
    func bf16Close(_ c: OpCase) throws {
        let b = try makeBackend()
        let y = try run(c, backend: b, precision: .bf16)
        let expected = try tensor(c, "output")
        // Inputs and weights carry 8-bit mantissas (relative error 2^-9 each); sums of up to ~100 products.
        let scale = expected.data.map(abs).max() ?? 1
        expectClose(y, expected, tolerance: 0.05 * max(scale, 1), c.name + " (bf16)")
    }

    @Test func secondRunReusesPrimitivesAndMemory() throws {
        let b = try makeBackend()
        let c = OpCase.all.first { $0.name == "conv3d_fused_gelu_residual" }!
        _ = try run(c, backend: b, precision: .f32)
        let created = b.primitivesCreated, pooled = b.pooledBytes
        _ = try run(c, backend: b, precision: .f32)
        #expect(b.primitivesCreated == created)
        #expect(b.pooledBytes == pooled)
    }

    @Test func mismatchedShapesThrowOneLineErrors() throws {
        let b = try makeBackend()
        let x = try b.upload(HostTensor(zeros: [1, 3, 4, 4]), role: .activation, precision: .f32)
        let w = try b.upload(HostTensor(zeros: [2, 5, 3, 3]), role: .convolutionWeight, precision: .f32)
        #expect(throws: EngineError.self) {
            _ = try b.convolution(x, weight: w, bias: nil, geometry: .same(kernel: 3, rank: 2), epilogue: .none)
        }
        let y = try b.upload(HostTensor(zeros: [1, 3, 5, 4]), role: .activation, precision: .f32)
        do {
            _ = try b.add(x, y, activation: .identity)
            Issue.record("adding [1,3,4,4] and [1,3,5,4] did not throw")
        } catch let error as EngineError {
            #expect(error.description == "shape error: add: shapes [1, 3, 4, 4] and [1, 3, 5, 4] differ")
        }
    }
}
