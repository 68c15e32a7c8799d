import Foundation
import LegSegIO
import Testing

@testable import LegSegPipeline

/// The pseudo-label checks on a hand-made teacher segmentation whose right answer is known voxel by voxel.
@Suite struct PseudoLabelTests {
    /// 20 × 8 × 4 canonical grid; columns 0..<10 are the right leg (low i = subject's right), 10..<20 the left.
    /// Soleus (5 left / 6 right) is symmetric; tibialis posterior only on the left; medial gastrocnemius 4× larger on
    /// the left; one stray soleus-left voxel apart from its body; a low-confidence strip; background outside the mask.
    func teacher() -> CanonicalSegmentation {
        let shape = [20, 8, 4]
        var labels = Volume<UInt8>(shape: shape, repeating: 0, affine: .identity)
        var mask = labels
        var confidence = [Float](repeating: 0.95, count: labels.count)
        for k in 0..<4 { for j in 0..<8 { for i in 0..<20 where j < 7 { mask[i, j, k] = 1 } } }
        for k in 0..<4 {
            for j in 0..<3 { for i in 2..<5 { labels[i, j, k] = 6 }; for i in 12..<15 { labels[i, j, k] = 5 } }  // soleus R, L
            labels[17, 0, k] = 15  // tibialis posterior left (label 15), no right counterpart
            for j in 4..<6 { for i in 11..<15 { labels[i, j, k] = 3 } }  // medial gastrocnemius left: 32 voxels
            labels[3, 5, k] = 4  // medial gastrocnemius right: 4 voxels
        }
        labels[18, 6, 3] = 5  // a stray soleus-left voxel, not connected to its body
        for j in 0..<7 { confidence[labels.index(8, j, 1)] = 0.5 }  // an uncertain column of background
        var report = SegmentationReport()
        report.legs = [LegPart(side: .right, columns: 0..<10), LegPart(side: .left, columns: 10..<20)]
        return CanonicalSegmentation(labels: labels, confidence: confidence, mask: mask, data: mask.map { Float($0) }, report: report)
    }

    @Test func confidentConsistentLabelsAreKeptAndTheRestUnlabelled() throws {
        let t = teacher()
        let p = PseudoLabeller.make(from: t)
        let u: UInt8 = 255
        // Soleus passes every check on both legs.
        #expect(p.labels[3, 1, 2] == 6 && p.labels[13, 1, 2] == 5)
        // The stray soleus voxel is a fragment.
        #expect(p.labels[18, 6, 3] == u)
        // One-sided and lopsided muscles are dropped on both legs, and reported.
        #expect(p.labels[17, 0, 0] == u)
        #expect(p.labels[12, 4, 1] == u && p.labels[3, 5, 1] == u)
        #expect(Set(p.rejected.map(\.label)) == [15, 16, 3, 4])
        // Uncertain voxels inside the body are unlabelled; confident background stays background; outside the mask
        // nothing changes.
        #expect(p.labels[8, 3, 1] == u && p.labels[8, 3, 0] == 0)
        #expect(p.labels[5, 7, 0] == 0)
        // Labelled fraction = kept mask voxels / mask voxels, counted independently here.
        let maskCount = t.mask.voxels.filter { $0 != 0 }.count
        let dropped = 1 + 4 + 32 + 4 + 7  // stray + tibialis + two gastrocnemii + uncertain column
        #expect(abs(p.labelledFraction - Double(maskCount - dropped) / Double(maskCount)) < 1e-12)
    }

    @Test func oneLegInViewSkipsTheBilateralCheck() throws {
        var t = teacher()
        t.report.legs = [LegPart(side: .left, columns: 0..<20)]
        let p = PseudoLabeller.make(from: t)
        #expect(p.rejected.isEmpty)
        #expect(p.labels[17, 0, 0] == 15 && p.labels[12, 4, 1] == 3)
    }

    @Test func theConfidenceThresholdIsAnOption() throws {
        var options = PseudoLabelOptions()
        options.confidence = 0.4
        let p = PseudoLabeller.make(from: teacher(), options: options)
        #expect(p.labels[8, 3, 1] == 0)
    }
}
