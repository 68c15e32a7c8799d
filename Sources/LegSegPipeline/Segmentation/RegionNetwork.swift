import LegSegEngine

/// A loaded segmentation network for one body region, with what the pipeline needs to use it: the input rule
/// it was trained with, its patch grid step, and the label each class writes on each side.
public struct RegionNetwork {
    public let region: SegmentationRegion
    public let unet: UNet
    public let normalization: InputNormalization
    /// Output label of class c (c = 0 is background and writes 0) for a leg on each side.
    public let outputLabels: [Side: [Int]]
    /// Rough peak memory model of one forward pass: bytes per patch voxel, and fixed bytes.
    public let bytesPerVoxel: Double
    public let fixedBytes: Double

    /// Voxel size `(i, j, k)` in mm the network was trained at; nil = run at the scan's own voxel size.
    public let voxelSizeIJK: [Double]?

    /// - Parameters:
    ///   - voxelSizeMM: the model file's training voxel size `(z, y, x)`; empty or nil = none.
    public init(region: SegmentationRegion, unet: UNet, normalization: InputNormalization, outputLabels: [Side: [Int]],
                voxelSizeMM: [Double]? = nil) {
        self.region = region
        if let v = voxelSizeMM, v.count == 3, v.allSatisfy({ $0 > 0 && $0.isFinite }) { voxelSizeIJK = v.reversed() } else { voxelSizeIJK = nil }
        self.unet = unet
        self.normalization = normalization
        self.outputLabels = outputLabels
        let c = unet.configuration
        // Peak activations: the widest full-resolution tensors (skip kept + concatenation + block) dominate:
        // about 6 feature maps of the first level plus class probabilities, 4 bytes each, doubled for workspace.
        let firstLevel = Double(c.baseFeatures)
        bytesPerVoxel = 2 * 4 * (6 * firstLevel + 2 * Double(c.classes))
        fixedBytes = 200e6
    }

    /// Patch axes `(i, j, k)` = `(x, y, z)`: the network's step, reversed from its `(z, y, x)` order.
    var stepIJK: [Int] { Array(unet.configuration.step.reversed()) }
    var classes: Int { unet.configuration.classes }
}
