import Foundation
import Testing
import LegSegIO
import LegSegPipeline
import LegSegTestSupport

/// QC and statistics on the real QMRITools volumes (../shared/data/qmritools), skipped when they are absent.
/// Set LEGSEG_QC_OUT to a folder to keep the montage for a look.
@Suite struct RealDataQCTests {
    @Test func montageOfRealThighsPutsTheSubjectsLeftLegOnTheRight() throws {
        guard let dir = TestSupport.realDataDirectory else {
            print("skipped: real QMRITools data not found (../shared/data/qmritools or LEGSEG_REAL_DATA)")
            return
        }
        let image = try NIfTIReader.read(dir.appendingPathComponent("test_up.nii.gz")).volume
        // A crude mask of the subject's left leg: bright voxels whose world x is negative (RAS+ world).
        var labels = Volume<Int32>(shape: image.shape, repeating: 0, affine: image.affine)
        let (ni, nj) = (image.shape[0], image.shape[1])
        let window = QCMontage.intensityWindow(image.voxels)
        let centreX = image.affine.apply([Double(ni - 1) / 2, 0, 0])[0]
        for n in 0..<image.count where Double(image.voxels[n]) > window.lower {
            let i = n % ni, j = (n / ni) % nj, k = n / (ni * nj)
            if image.affine.apply([Double(i), Double(j), Double(k)])[0] < centreX { labels.voxels[n] = 2 }
        }
        var options = QCMontageOptions(colors: [2: (0, 200, 255)])
        let cropped = try QCMontage.render(image: image, labels: labels, options: options)
        if let out = ProcessInfo.processInfo.environment["LEGSEG_QC_OUT"] {
            try PNGWriter.write(cropped, to: URL(fileURLWithPath: out).appendingPathComponent("test_up_montage.png"))
        }
        // Uncropped tiles, so that each tile's halves are the two halves of the field of view.
        options.outlines = false
        options.cropToBody = false
        let png = try QCMontage.render(image: image, labels: labels, options: options)
        #expect(cropped.width < png.width && cropped.height < png.height)
        #expect(png.width == 4 * 320 + 5 * 2 && png.height == 3 * 320 + 4 * 2)
        // Tinted pixels (blue above red) lie in the right half of every tile.
        var left = 0, right = 0
        for y in 0..<png.height {
            for x in 0..<png.width {
                let p = 3 * (y * png.width + x)
                guard Int(png.pixels[p + 2]) > Int(png.pixels[p]) + 10 else { continue }
                let column = (x - 2) % 322
                if column < 160 { left += 1 } else { right += 1 }
            }
        }
        #expect(right > 10_000 && left == 0, "left \(left) right \(right)")
    }
}
