import Foundation
import LegSegDNNL
import LegSegEngine
import LegSegIO
import LegSegPipeline

/// A folder of LegSeg models (thigh.json, lowerleg.json, classifier.json; any may be missing) as a `Segmenter`:
/// what `legseg segment` runs, and the teacher of `legseg train --unlabelled`.
enum SegmenterLoading {
    /// - Parameter replacing: a model file to use instead of the folder's for a region (the network being fine-tuned).
    static func load(folder: URL, replacing: [SegmentationRegion: URL] = [:], precision p: Precision,
                     options: SegmentationOptions) throws -> Segmenter {
        let backend = try DNNLBackend()
        var networks: [SegmentationRegion: RegionNetwork] = [:]
        for (region, name) in [(SegmentationRegion.thigh, "thigh"), (.lowerLeg, "lowerleg")] {
            let url = replacing[region] ?? folder.appendingPathComponent(name + ".json")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let model = try ModelFile(contentsOf: url)
            guard case .unet(let config) = model.manifest.architecture else {
                throw SegmentationError(file: url.relativePath, message: "is not a segmentation UNet")
            }
            let names = model.manifest.classes?.map(\.name) ?? []
            let mapping = LabelTables.standardizedLabels(forClassNames: names)
            if !mapping.unknown.isEmpty {
                Terminal.warn("\(url.relativePath): classes not in the standardized table are dropped: \(mapping.unknown.joined(separator: ", "))")
            }
            let unet = try UNet(configuration: config, weights: model.weights, backend: backend, precision: p)
            networks[region] = RegionNetwork(region: region, unet: unet, normalization: model.manifest.input.normalization,
                                             outputLabels: [.left: mapping.left, .right: mapping.right],
                                             voxelSizeMM: model.manifest.input.voxelSizeMM)
        }
        guard !networks.isEmpty else {
            throw SegmentationError(file: folder.relativePath, message: "holds neither thigh.json nor lowerleg.json")
        }
        var classifier: SliceRegionClassifier?
        let classifierURL = folder.appendingPathComponent("classifier.json")
        if FileManager.default.fileExists(atPath: classifierURL.path) {
            let model = try ModelFile(contentsOf: classifierURL)
            guard case .sliceClassifier(let config) = model.manifest.architecture else {
                throw SegmentationError(file: classifierURL.relativePath, message: "is not a slice classifier")
            }
            classifier = SliceRegionClassifier(network: try SliceClassifier(configuration: config, weights: model.weights, backend: backend, precision: p))
        }
        return Segmenter(networks: networks, classifier: classifier, options: options)
    }
}
