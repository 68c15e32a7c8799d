import ArgumentParser
import Foundation
import LegSegDNNL
import LegSegEngine

/// `legseg bench engine`: forward passes of the segmentation UNet on the oneDNN backend. Prints ms per patch
/// (median), effective GFLOP/s (2 FLOP per multiply-add of the convolutions) and peak resident memory.
/// `Benchmarks/pytorch_unet_bench.py` runs the identical networks in PyTorch with the same thread count and
/// prints the ratios. Weights are random (timing does not depend on their values).
struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Time UNet forward passes (f32 and bf16) on the oneDNN CPU backend.",
        discussion: """
            Configurations: "spec" is segmentdata-spec's default UNet (base 32, depth 5, down-sampling (1,2,2) then \
            (2,2,2) x3, 22 classes, 18.0 M parameters); "small" (base 16, depth 4) is sized for bundled models. \
            Peak RSS is the process's peak so far (configurations run small first, f32 before bf16).
            """)

    @Option(help: "Configurations to run, comma-separated: small, spec.")
    var configs: String = "small,spec"

    @Option(help: "Precisions, comma-separated: f32, bf16.")
    var precisions: String = "f32,bf16"

    @Option(help: "Patch size z,y,x.")
    var patch: String = "32,112,112"

    @Option(help: "Patches per forward pass.")
    var batch: Int = 1

    @Option(help: "Modes, comma-separated: forward, train-step (forward + backward + Adam update, see BenchTrainStep.swift).")
    var modes: String = "forward,train-step"

    @Option(help: "Patches per training step (train-step mode).")
    var trainBatch: Int = 2

    @Option(help: "Timed forward passes (or training steps) per configuration, after the warm-up ones.")
    var repeats: Int = 5

    @Option(help: "Untimed passes (or steps) first; the first of them creates the primitives (its time is first_ms).")
    var warmup: Int = 1

    @Option(help: "OpenMP threads for oneDNN (default: all cores).")
    var threads: Int?

    @Flag(help: "Print one JSON object per line instead of text.")
    var json = false

    static func configuration(named name: String) -> UNetConfiguration? {
        switch name {
        case "spec": return .specDefault(classes: 22)
        case "small":
            return UNetConfiguration(classes: 22, depth: 4, baseFeatures: 16,
                                     downsampling: [[1, 2, 2], [2, 2, 2], [2, 2, 2]])
        default: return nil
        }
    }

    var patchSize: [Int] { patch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var modeList: [String] { modes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    var configNames: [String] { configs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    var precisionList: [Precision] { precisions.split(separator: ",").compactMap { Precision(rawValue: $0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard repeats >= 1, warmup >= 1, batch >= 1, trainBatch >= 1 else {
            throw ValidationError("--repeats, --warmup, --batch and --train-batch must be at least 1")
        }
        guard !modeList.isEmpty, modeList.allSatisfy({ ["forward", "train-step"].contains($0) }) else {
            throw ValidationError("--modes takes forward and/or train-step")
        }
        guard patchSize.count == 3, patchSize.allSatisfy({ $0 > 0 }) else { throw ValidationError("--patch needs three sizes z,y,x") }
        for name in configNames where Self.configuration(named: name) == nil {
            throw ValidationError("unknown configuration \"\(name)\" (known: small, spec)")
        }
        guard precisionList.count == precisions.split(separator: ",").count, !precisionList.isEmpty else {
            throw ValidationError("--precisions takes f32 and/or bf16")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        for name in configNames {
            do { try Self.configuration(named: name)!.checkPatch(patchSize) } catch {
                throw ValidationError("\(name): \(error)")
            }
        }
    }

    func run() throws {
        if let threads { setenv("OMP_NUM_THREADS", String(threads), 1) }  // before oneDNN starts OpenMP
        let backend = try DNNLBackend()
        if !json {
            print("backend: \(backend.name) (\(backend.capabilities)); threads \(threads.map(String.init) ?? "all")")
        }
        for name in configNames {
            let config = Self.configuration(named: name)!
            let weights = RandomWeights.make(config, seed: 42)
            let gflop = try config.forwardFLOPs(spatial: patchSize) * Double(batch) / 1e9
            let input = RandomWeights.input([batch, config.inputChannels] + patchSize, seed: 7)
            for precision in precisionList where modeList.contains("forward") {
                let start = DispatchTime.now().uptimeNanoseconds
                let net = try UNet(configuration: config, weights: weights, backend: backend, precision: precision)
                let x = try backend.upload(input, role: .activation, precision: precision)
                _ = try backend.download(try net.forward(x))  // warm-up: primitive creation, weight reorders
                let firstMS = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                for _ in 1..<warmup { _ = try backend.download(try net.forward(x)) }
                var times: [Double] = []
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    let y = try net.forward(x)
                    _ = y.shape
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                }
                let ms = times.sorted()[times.count / 2]
                let rss = ResourceUsage.peakResidentMB
                if json {
                    print(JSONLine.encode([
                        "mode": .string("forward"), "config": .string(name), "precision": .string(precision.rawValue),
                        "patch": .array(patchSize.map { .number(Double($0)) }), "batch": .number(Double(batch)),
                        "params": .number(Double(config.storedParameterCount)),
                        "gflop": .number((gflop * 100).rounded() / 100), "ms": .number((ms * 100).rounded() / 100),
                        "first_ms": .number(firstMS.rounded()), "gflops": .number((gflop / (ms / 1000)).rounded()),
                        "peak_rss_mb": .number(rss.rounded()), "repeats": .number(Double(repeats)),
                        "warmup": .number(Double(warmup)),
                        "threads": threads.map { .number(Double($0)) } ?? .null,
                        "bf16_native": .bool(backend.capabilities.nativeBF16), "isa": .string(DNNLBackend.isaName),
                    ]))
                } else {
                    print(String(format: "%@ %@ patch %@ batch %d: %.1f ms/patch (median of %d; first call %.0f ms), %.1f GFLOP, %.0f GFLOP/s, %.2f M params, peak RSS %.0f MiB",
                                 name, precision.rawValue, patchSize.map(String.init).joined(separator: "x"), batch,
                                 ms / Double(batch), repeats, firstMS, gflop, gflop / (ms / 1000),
                                 Double(config.storedParameterCount) / 1e6, rss))
                }
            }
            for precision in precisionList where modeList.contains("train-step") {
                guard let record = try trainStep(backend: backend, name: name, config: config, precision: precision,
                                                 batch: trainBatch) else { continue }
                if json {
                    print(JSONLine.encode(record))
                } else if case .number(let ms) = record["ms"], case .number(let g) = record["gflops"],
                          case .number(let rss) = record["peak_rss_mb"] {
                    print(String(format: "%@ %@ train-step patch %@ batch %d: %.1f ms/step (median of %d), %.0f GFLOP/s, peak RSS %.0f MiB",
                                 name, precision.rawValue, patchSize.map(String.init).joined(separator: "x"), trainBatch,
                                 ms, repeats, g, rss))
                }
            }
        }
    }
}

/// Deterministic weights (the training initialisation) and inputs (uniform in [-1, 1]) for benchmarks.
enum RandomWeights {
    static func make(_ config: any NetworkArchitecture, seed: UInt64) -> [String: HostTensor] {
        TrainableNetwork.initialParameters(config, seed: seed)
    }

    static func input(_ shape: [Int], seed: UInt64) -> HostTensor {
        var g = SplitMix64(seed: seed)
        var t = HostTensor(zeros: shape)
        for i in 0..<t.count { t.data[i] = Float(g.uniform() * 2 - 1) }
        return t
    }
}
