import Foundation
import LegSegEngine
import Testing

/// Closed-form checks of the architectures against the numbers in segmentdata-spec.md §2.2 and §3.3.
@Suite struct ArchitectureTests {
    @Test func specDefaultUNetHasTheSpecParameterCount() {
        let config = UNetConfiguration.specDefault(classes: 22)
        // §3.3: 18 015 126 including batch-norm running statistics; 17.99 M trainable.
        #expect(config.storedParameterCount == 18_015_126)
        #expect(abs(Double(config.trainableParameterCount) - 17.99e6) < 0.03e6, "\(config.trainableParameterCount)")
        #expect(config.step == [8, 16, 16])
    }

    @Test func specDefaultUNetCostsAbout278GFLOPOnA32x112x112Patch() throws {
        let flops = try UNetConfiguration.specDefault().forwardFLOPs(spatial: [32, 112, 112])
        #expect(abs(flops / 1e9 - 278) < 1.5, "\(flops / 1e9) GFLOP")
    }

    @Test func twoDimensionalAnalogueHasAbout6Point25MParameters() {
        let config = UNetConfiguration(dimensions: 2, classes: 22)
        #expect(abs(Double(config.storedParameterCount) - 6.25e6) < 0.02e6, "\(config.storedParameterCount)")
    }

    @Test func specClassifierHasAbout0Point32MParameters() {
        let config = SliceClassifierConfiguration()
        #expect(config.flattenedFeatures == 256)
        // PyTorch's parameters() of the same network (Reference/pytorch): 315 435 trainable values.
        #expect(config.trainableParameterCount == 315_435)
        #expect(config.parameterSpecs().filter { $0.name.hasPrefix("trunk.") && $0.trainable }
                    .reduce(0) { $0 + $1.shape.reduce(1, *) } < 100_000)
    }

    @Test func tensorNamesAreStable() {
        let names = UNetConfiguration(classes: 3, depth: 2, baseFeatures: 4, downsampling: [[1, 2, 2]])
            .parameterSpecs().map(\.name)
        #expect(names.prefix(3) == ["start.weight", "start.bias", "encoder.0.block.conv.0.weight"])
        #expect(names.contains("encoder.1.down.weight"))
        #expect(names.contains("decoder.0.up.weight"))
        #expect(names.contains("decoder.0.block.shortcut_norm.running_var"))
        #expect(names.suffix(2) == ["map.weight", "map.bias"])
        #expect(!names.contains("encoder.0.down.weight"), "no down-sampling into level 0 (spec §3.5)")
    }

    @Test func convolutionOutputSizesFollowPyTorch() throws {
        let g = ConvolutionGeometry(kernel: [3, 3, 3], stride: [1, 2, 2], padding: [1, 1, 1])
        #expect(try g.convolutionOutput([32, 112, 112]) == [32, 56, 56])
        #expect(try g.convolutionOutput([5, 7, 7]) == [5, 4, 4])
        let t = ConvolutionGeometry(kernel: [3, 3], stride: [2, 2], padding: [1, 1], outputPadding: [1, 1])
        #expect(try t.transposedOutput([4, 5]) == [8, 10])
    }
}
