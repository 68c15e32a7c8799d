import Foundation
import LegSegEngine
import LegSegIO

/// Which part of the leg to segment: found per slice by the classifier (`auto`), or forced.
public enum RegionChoice: String, Codable, Sendable, CaseIterable {
    /// `legs`: the slice classifier finds thigh and lower-leg slices; `thigh`, `lowerleg`: the whole scan is that region.
    case legs, thigh, lowerleg
}

public struct SegmentationOptions: Sendable {
    public var region: RegionChoice = .legs
    /// Peak memory budget for patches, in bytes.
    public var memoryBudgetBytes: Double = 1.5e9
    /// Overlap of neighbouring patches (fraction of the patch).
    public var overlap = 0.5
    /// Also run each patch mirrored left/right and average (test-time augmentation).
    public var mirror = false
    /// Keep only the largest 6-connected component of each label.
    public var largestComponent = true
    /// Minimum length in mm of an inner body region in the slice staircase fit.
    public var minimumRegionMM = 30.0
    /// Run each network at the voxel size it was trained at (its model file's `voxelSizeMM`), resampling the
    /// scan to it and the class probabilities back.
    public var resampleToNetworkVoxelSize = true
    /// Background kept around each leg's bounding box in-plane (mm), as context for the network.
    public var contextMarginMM = 50.0
    public init() {}
}

/// Receives progress of long stages; the CLI draws it on a terminal. Libraries never print.
public protocol SegmentationProgress: AnyObject {
    func stage(_ name: String)
    func advance(done: Int, of total: Int)
}

/// What a segmentation produced, besides the label map.
public struct SegmentationReport: Sendable {
    public var legs: [LegPart] = []
    /// Body region of every canonical slice (inferior first) when the classifier ran.
    public var sliceRegions: [BodyRegion]? = nil
    /// Canonical slice ranges given to each network.
    public var regionSlices: [SegmentationRegion: Range<Int>] = [:]
    public var patchSize: [SegmentationRegion: [Int]] = [:]
    public var patches = 0
    /// Seconds per stage, in order.
    public var timings: [(stage: String, seconds: Double)] = []
    public var warnings: [String] = []
}

public struct SegmentationError: LegSegError {
    public let file: String?
    public let message: String
    public init(file: String?, message: String) { self.file = file; self.message = message }
    public var description: String { file.map { "\($0): \(message)" } ?? message }
}

/// What `Segmenter.segmentCanonical` produced, on the canonical grid.
public struct CanonicalSegmentation: Sendable {
    /// Labels of the standardized table, before the largest-component clean-up.
    public var labels: Volume<UInt8>
    /// Probability of each voxel's label under the network that wrote it (0 where none ran).
    public var confidence: [Float]
    public var mask: Volume<UInt8>
    /// The prepared image (`Segmenter.prepare`) the networks saw.
    public var data: Volume<Float>
    public var report: SegmentationReport
}

/// The SegmentData pipeline (spec §1), made orientation-correct and probability-merged:
///
/// canonicalise (LPS) → clip at the 99.9th percentile → foreground mask → sides → body regions per slice →
/// per (side, region): crop, normalise once, Gaussian-weighted sliding windows → merge by probability →
/// largest component per label → undo canonicalisation. The label map comes back on the input's grid.
public final class Segmenter {
    public let networks: [SegmentationRegion: RegionNetwork]
    public let classifier: SliceRegionClassifier?
    public var options: SegmentationOptions
    public weak var progress: SegmentationProgress?

    public init(networks: [SegmentationRegion: RegionNetwork], classifier: SliceRegionClassifier?, options: SegmentationOptions = .init()) {
        self.networks = networks
        self.classifier = classifier
        self.options = options
    }

    /// Labels (standardized table) for `image`, on its own grid.
    public func segment(_ image: Volume<Float>, file: String? = nil) throws -> (labels: Volume<UInt8>, report: SegmentationReport) {
        let (canonical, transform) = image.canonicalised()
        var result = try segmentCanonical(canonical, file: file)
        if options.largestComponent {
            let clock = DispatchTime.now().uptimeNanoseconds
            Segmenter.keepLargestComponents(&result.labels, legs: result.report.legs)
            result.report.timings.append(("merge", Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9))
        }
        return (result.labels.undoing(transform), result.report)
    }

    /// Everything of `segment` before the largest-component clean-up, on the canonical grid: the merged label map,
    /// the winning class probability of every voxel (0 where no network ran), the foreground mask.
    public func segmentCanonical(_ canonical: Volume<Float>, file: String? = nil) throws -> CanonicalSegmentation {
        var report = SegmentationReport()
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ stage: String) {
            let now = DispatchTime.now().uptimeNanoseconds
            report.timings.append((stage, Double(now - clock) / 1e9))
            clock = now
        }
        progress?.stage("preparing")
        let (data, mask) = Segmenter.prepare(canonical)
        lap("mask")
        var labels = Volume<UInt8>(shape: canonical.shape, repeating: 0, affine: canonical.affine)
        var confidence = [Float](repeating: 0, count: canonical.count)
        report.legs = LegSides().split(mask)
        guard !report.legs.isEmpty else {
            report.warnings.append("no leg found: the image has no foreground; the label map is empty")
            return CanonicalSegmentation(labels: labels, confidence: confidence, mask: mask, data: data, report: report)
        }
        lap("sides")

        // Which slices each network sees.
        let nz = canonical.shape[2]
        switch options.region {
        case .thigh: report.regionSlices = [.thigh: 0..<nz]
        case .lowerleg: report.regionSlices = [.lowerLeg: 0..<nz]
        case .legs:
            guard let classifier else {
                throw SegmentationError(file: file, message: "no slice classifier is loaded to find the body regions; choose one with --region thigh or --region lowerleg")
            }
            progress?.stage("classifying slices")
            let probabilities = try classifier.regionProbabilities(data)
            let fit = RegionFit(minimumRunMM: options.minimumRegionMM).fit(probabilities, sliceThicknessMM: canonical.spacing[2])
            report.sliceRegions = fit
            report.regionSlices = RegionFit.sliceRanges(fit)
            lap("classify")
        }
        for region in report.regionSlices.keys where networks[region] == nil {
            report.warnings.append("no \(region.rawValue) network is loaded; slices \(report.regionSlices[region]!) of that region are left unlabelled")
        }

        // Segment every (side, region) piece and merge by probability.
        let pieces = report.legs.flatMap { leg in report.regionSlices.keys.sorted { $0.rawValue < $1.rawValue }.map { (leg, $0) } }
        for (leg, region) in pieces {
            guard let network = networks[region], let slices = report.regionSlices[region] else { continue }
            let origin = [leg.columns.lowerBound, 0, slices.lowerBound]
            let size = [leg.columns.count, canonical.shape[1], slices.count]
            let pieceMask = mask.extracting(origin: origin, size: size, fill: 0)
            guard let box = pieceMask.boundingBox(where: { $0 != 0 }) else { continue }
            // In-plane context around the leg's box: the networks learnt legs surrounded by background, not
            // legs whose skin touches the patch edge (where every layer's zero padding replaces real context).
            let margin = [0, 1].map { Int((options.contextMarginMM / canonical.spacing[$0]).rounded(.up)) } + [0]
            let boxOrigin = (0..<3).map { origin[$0] + box.lower[$0] - margin[$0] }
            let boxSize = (0..<3).map { box.size[$0] + 2 * margin[$0] }
            var sub = data.extracting(origin: boxOrigin, size: boxSize, fill: 0)
            network.normalization.apply(to: &sub.voxels)
            progress?.stage("segmenting \(leg.side.rawValue) \(region == .thigh ? "thigh" : "lower leg")")
            let (classes, conf, patchSize, count) = try predict(sub, network: network)
            report.patchSize[region] = patchSize
            report.patches += count
            let map = network.outputLabels[leg.side] ?? []
            for k in 0..<boxSize[2] { for j in 0..<boxSize[1] { for i in 0..<boxSize[0] {
                let s = i + boxSize[0] * (j + boxSize[1] * k)
                guard leg.owned.contains(i + boxOrigin[0]), (0..<canonical.shape[1]).contains(j + boxOrigin[1]) else { continue }
                let g = labels.index(i + boxOrigin[0], j + boxOrigin[1], k + boxOrigin[2])
                guard mask.voxels[g] != 0, conf[s] > confidence[g] else { continue }
                confidence[g] = conf[s]
                let c = Int(classes[s])
                labels.voxels[g] = c < map.count ? UInt8(clamping: map[c]) : 0
            } } }
        }
        lap("segment")
        return CanonicalSegmentation(labels: labels, confidence: confidence, mask: mask, data: data, report: report)
    }

    /// The preprocessing every network input gets, at inference and in training (`legseg train` calls it too):
    /// intensities clipped to [0, 99.9th percentile], the foreground mask (spec §1.2), background set to 0.
    /// `canonical` must be in LegSeg's canonical layout.
    public static func prepare(_ canonical: Volume<Float>) -> (data: Volume<Float>, mask: Volume<UInt8>) {
        var data = canonical
        let top = robustMaximum(data.voxels)
        for n in data.voxels.indices { data.voxels[n] = min(max(data.voxels[n], 0), top) }
        let mask = ForegroundMask()(data)
        for n in data.voxels.indices where mask.voxels[n] == 0 { data.voxels[n] = 0 }
        return (data, mask)
    }

    /// Sliding-window prediction over one normalised sub-volume: arg-max class and its probability per voxel.
    ///
    /// When the network was trained at another voxel size, the sub-volume is resampled to it (linear), the windows
    /// run on that grid, and the averaged class probabilities are interpolated back (linear) before the arg-max, so
    /// borders fall between the network's voxels rather than on them.
    func predict(_ sub: Volume<Float>, network: RegionNetwork) throws -> (classes: [Int32], confidence: [Float], patch: [Int], count: Int) {
        guard let target = network.voxelSizeIJK, options.resampleToNetworkVoxelSize,
              GridResampling.isNeeded(spacing: sub.spacing, target: target) else {
            let accumulator = try slidingWindows(sub, network: network)
            let decoded = accumulator.accumulator.decode()
            return (decoded.classes, decoded.confidence, accumulator.patch, accumulator.count)
        }
        let coarse = GridResampling.resampled(sub, toSpacing: target)
        let run = try slidingWindows(coarse, network: network)
        let probabilities = run.accumulator.averaged()
        let fine = GridResampling.linear(probabilities, channels: network.classes, from: coarse.shape, to: sub.shape)
        let voxels = sub.count
        var classes = [Int32](repeating: 0, count: voxels), confidence = [Float](repeating: 0, count: voxels)
        for v in 0..<voxels {
            var best = 0, bestValue = fine[v]
            for c in 1..<network.classes where fine[c * voxels + v] > bestValue { best = c; bestValue = fine[c * voxels + v] }
            classes[v] = Int32(best); confidence[v] = bestValue
        }
        return (classes, confidence, run.patch, run.count)
    }

    /// Gaussian-weighted sliding windows over a normalised volume on the network's grid.
    func slidingWindows(_ sub: Volume<Float>, network: RegionNetwork) throws -> (accumulator: ProbabilityAccumulator, patch: [Int], count: Int) {
        let planner = PatchSizePlanner(step: network.stepIJK, fixedBytes: network.fixedBytes, bytesPerVoxel: network.bytesPerVoxel)
        let patch = planner.patchSize(for: sub.shape, budgetBytes: options.memoryBudgetBytes)
        let grid = PatchGrid(dataShape: sub.shape, patchSize: patch, overlap: options.overlap)
        let weights = GaussianWeights(size: patch)
        var accumulator = ProbabilityAccumulator(shape: sub.shape, classes: network.classes)
        let origins = grid.origins
        for (n, origin) in origins.enumerated() {
            let input = sub.extracting(origin: origin, size: patch, fill: 0)
            var probabilities = try run(network, input.voxels, patch: patch)
            if options.mirror {
                let mirrored = try run(network, Segmenter.flipI(input.voxels, shape: patch, channels: 1), patch: patch)
                let back = Segmenter.flipI(mirrored, shape: patch, channels: network.classes)
                for v in probabilities.indices { probabilities[v] = 0.5 * (probabilities[v] + back[v]) }
            }
            accumulator.add(probabilities, origin: origin, weights: weights)
            progress?.advance(done: n + 1, of: origins.count)
        }
        return (accumulator, patch, origins.count)
    }

    private func run(_ network: RegionNetwork, _ voxels: [Float], patch: [Int]) throws -> [Float] {
        let input = try HostTensor(shape: [1, 1, patch[2], patch[1], patch[0]], data: voxels)
        return try network.unet.predict(input).data
    }

    /// Reverses axis i (the left/right axis of a canonical patch) of `channels` stacked volumes.
    static func flipI(_ v: [Float], shape: [Int], channels: Int) -> [Float] {
        var out = v
        let nx = shape[0]
        for row in 0..<(v.count / nx) {
            for i in 0..<nx { out[row * nx + i] = v[row * nx + nx - 1 - i] }
        }
        return out
    }

    /// The 99.9th percentile of the voxels (spec CLI pre-clip), from a strided sample for speed.
    static func robustMaximum(_ v: [Float]) -> Float {
        guard !v.isEmpty else { return 0 }
        let step = max(1, v.count / 200_000)
        return quantile(stride(from: 0, to: v.count, by: step).map { v[$0] }, 0.999)
    }

    /// For every label, keeps only its largest 6-connected component on each leg (ties: the one met first in array
    /// order). Per leg, because unsided structures (subcutaneous fat) carry one label on both legs: a filter per
    /// label alone kept one leg's fat ring and erased the other's. `legs` are the legs' `owned` column ranges
    /// (canonical i); empty = one region. One flood fill labels the components of all labels at once (spec §6.7).
    public static func keepLargestComponents(_ labels: inout Volume<UInt8>, legs: [LegPart] = []) {
        let v = labels.voxels, nx = labels.shape[0]
        var legOfColumn = [Int](repeating: 0, count: nx)
        for (index, leg) in legs.enumerated() {
            for i in leg.owned where i >= 0 && i < nx { legOfColumn[i] = index }
        }
        let components = ConnectedComponents(shape: labels.shape, isInside: { v[$0] != 0 },
                                              joins: { v[$0] == v[$1] && legOfColumn[$0 % nx] == legOfColumn[$1 % nx] })
        // Components are numbered by decreasing size (ties: first met first): a (label, leg)'s first is the one to keep.
        var keep = [Int32](repeating: 0, count: 256 * max(1, legs.count))
        for (n, c) in components.labels.enumerated() where c != 0 {
            let key = Int(v[n]) + 256 * legOfColumn[n % nx]
            if keep[key] == 0 || c < keep[key] { keep[key] = c }
        }
        for n in v.indices where v[n] != 0 && components.labels[n] != keep[Int(v[n]) + 256 * legOfColumn[n % nx]] {
            labels.voxels[n] = 0
        }
    }
}
