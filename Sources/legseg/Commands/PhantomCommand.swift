import ArgumentParser
import Foundation
import LegSegIO
import LegSegPhantom

/// `legseg phantom --out DIR --count N --seed S`: synthetic legs with known labels.
struct PhantomCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Generate synthetic leg MRI phantoms (Dixon images, label maps, JSON sidecars).",
        discussion: """
        For each case NAME it writes NAME_image.nii.gz, NAME_labels.nii.gz (standardized left/right Muscles_leg \
        table unless --labels says otherwise) and NAME.json (subject, signal and acquisition parameters, per-slice \
        body region, legs present, label volumes). With --contrast all, NAME_image is the out-phase image and \
        NAME_inphase, NAME_water and NAME_fat are written beside it. The same seed gives identical files.
        """)

    @Option(help: "Output folder (created if missing).")
    var out: String

    @Option(help: "Number of cases.")
    var count: Int = 1

    @Option(help: "Seed of the series.")
    var seed: UInt64 = 1

    @Option(help: "Index of the first case (cases are independent: case i of a seed never changes).")
    var first: Int = 0

    @Option(help: "Name prefix of the cases.")
    var prefix: String = "phantom"

    @Option(help: "Body regions covered, comma-separated: hip, thigh, knee, lower-leg, ankle, or all.")
    var regions: String = "all"

    @Option(help: "Field of view along the leg in mm, placed at random inside the regions (default: all of them).")
    var fovLength: Double?

    @Option(help: "Legs: both, left or right.")
    var legs: String = "both"

    @Option(help: "Image contrast: out-phase, in-phase, water, fat, all (the four Dixon images), or t1-like (T1-weighted-like).")
    var contrast: String = "out-phase"

    @Option(help: "Voxel size in mm: one value (isotropic), or in-plane,slice, or x,y,z.")
    var voxelSize: String = "1.5,6"

    @Option(help: "In-plane matrix i,j (default: the body plus a random margin).")
    var matrix: String?

    @Option(help: "Disease severity 0 (healthy) to 1 (end stage), or healthy, mild (0.25), moderate (0.5), severe (0.8), random.")
    var disease: String = "healthy"

    @Option(help: "Disease pattern: random, ageing, duchenne, fshd, lgmd, dysferlin, myotonic, ibm.")
    var pattern: String = "random"

    @Flag(help: "Randomise per-tissue water and fat intensities (for training).")
    var randomContrast = false

    @Option(help: "SNR range low,high (muscle signal / noise sigma).")
    var snr: String = "15,60"

    @Option(help: "Strength of the smooth coil/bias field (0 = none).")
    var bias: Double = 0.4

    @Option(help: "Label table: standardized, thigh (N5 network) or lower-leg (N6 network).")
    var labels: String = "standardized"

    @Option(help: "Array orientation of the files: LPS (LegSeg canonical) or RAS.")
    var orientation: String = "LPS"

    @Option(help: "Step of the fine simulation grid in-plane (mm); smaller = finer partial volume, slower.")
    var fineStep: Double = 0.5

    @Flag(help: "Print nothing (progress lines are printed only on a terminal anyway).")
    var quiet = false

    @Flag(help: "Print one JSON line per case.")
    var json = false

    func numbers(_ s: String, _ what: String) throws -> [Double] {
        let v = s.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else { throw ValidationError("\(what): expected comma-separated numbers, got '\(s)'") }
        return v.map { $0! }
    }

    func makeOptions() throws -> PhantomOptions {
        var o = PhantomOptions()
        guard let l = LegSelection(rawValue: legs.lowercased()) else { throw ValidationError("--legs must be both, left or right") }
        o.legs = l
        if regions.lowercased() != "all" {
            o.regions = try regions.split(separator: ",").map {
                guard let r = BodyRegion(rawValue: $0.trimmingCharacters(in: .whitespaces).lowercased()) else {
                    throw ValidationError("unknown region '\($0)' (hip, thigh, knee, lower-leg, ankle, all)")
                }
                return r
            }
        }
        o.fieldOfViewLengthMM = fovLength
        guard let c = ImageContrast(rawValue: contrast.lowercased()) else {
            throw ValidationError("--contrast must be out-phase, in-phase, water, fat, all or t1-like")
        }
        o.contrast = c
        let v = try numbers(voxelSize, "--voxel-size")
        switch v.count {
        case 1: o.voxelSize = [v[0], v[0], v[0]]
        case 2: o.voxelSize = [v[0], v[0], v[1]]
        case 3: o.voxelSize = v
        default: throw ValidationError("--voxel-size takes 1, 2 or 3 values")
        }
        if let m = matrix { o.matrix = try numbers(m, "--matrix").map { Int($0) } }
        switch disease.lowercased() {
        case "healthy", "none": o.diseaseSeverity = nil
        case "mild": o.diseaseSeverity = 0.25
        case "moderate": o.diseaseSeverity = 0.5
        case "severe": o.diseaseSeverity = 0.8
        case "random": o.diseaseSeverity = -1
        default:
            guard let x = Double(disease), (0...1).contains(x) else { throw ValidationError("--disease must be 0...1 or healthy/mild/moderate/severe/random") }
            o.diseaseSeverity = x
        }
        if pattern.lowercased() != "random" {
            guard let p = DiseasePattern(rawValue: pattern.lowercased()), p != .none else { throw ValidationError("unknown --pattern '\(pattern)'") }
            o.diseasePattern = p
        }
        o.randomiseContrast = randomContrast
        o.snrRange = try numbers(snr, "--snr")
        if o.snrRange.count == 1 { o.snrRange = [o.snrRange[0], o.snrRange[0]] }
        o.biasStrength = bias
        guard let t = LabelTables.Table(rawValue: labels.lowercased()) else { throw ValidationError("--labels must be standardized, thigh or lower-leg") }
        o.labelTable = t
        o.orientation = orientation.uppercased()
        o.fineStepMM = fineStep
        return o
    }

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be 1 or more") }
        guard first >= 0 else { throw ValidationError("--first must be 0 or more") }
        guard fineStep >= 0.1 && fineStep <= 5 else { throw ValidationError("--fine-step must lie in 0.1...5 mm") }
        _ = try makeOptions()
    }

    func run() throws {
        var options = try makeOptions()
        let randomSeverity = options.diseaseSeverity == -1
        let dir = URL(fileURLWithPath: out)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            Terminal.error(error); throw ExitCode(ExitCodes.badInput)
        }
        for index in first..<(first + count) {
            if randomSeverity {
                // Per case: healthy a third of the time, else uniform severity (deterministic from seed and index).
                var r = PhantomRandom.stream(seed ^ 0xD15E_A5E, UInt64(index))
                options.diseaseSeverity = r.bernoulli(0.33) ? nil : r.uniform(0.05, 1)
            }
            let name = String(format: "%@_%04d", prefix, index)
            let start = Date()
            do {
                let phantom = try PhantomGenerator.generate(options: options, seed: seed, index: index, name: name)
                let files = try phantom.write(to: dir)
                let seconds = Date().timeIntervalSince(start)
                if json {
                    print(JSONLine.encode([
                        "name": .string(name), "files": .array(files.map { .string($0.path) }),
                        "shape": .array(phantom.labels.shape.map { .number(Double($0)) }), "seconds": .number(seconds),
                    ]))
                } else if !quiet && Terminal.isInteractive {
                    let shape = phantom.labels.shape.map(String.init).joined(separator: "x")
                    FileHandle.standardError.write(Data(String(format: "%@: %@ voxels, %.1f s\n", name, shape, seconds).utf8))
                }
            } catch {
                Terminal.error(error)
                throw ExitCode(ExitCodes.badInput)
            }
        }
    }
}
