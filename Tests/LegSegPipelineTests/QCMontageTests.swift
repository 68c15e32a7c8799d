import Foundation
import Testing
import LegSegIO
import LegSegPipeline
import LegSegTestSupport

/// The montage's orientation is checked on decoded PNG bytes, for volumes stored in different array orders.
@Suite struct QCMontageTests {
    static let shape = [20, 16, 6]

    /// Affines whose array axes point in different directions; all have 1 x 1.25 x 4 mm voxels along (i, j, k).
    static let affines: [String: Affine] = [
        "RAS": Affine(rows: [[1, 0, 0, -10], [0, 1.25, 0, -10], [0, 0, 4, 0], [0, 0, 0, 1]]),
        "LPS": Affine(rows: [[-1, 0, 0, 10], [0, -1.25, 0, 10], [0, 0, 4, 0], [0, 0, 0, 1]]),
        "LPI": Affine(rows: [[-1, 0, 0, 10], [0, -1.25, 0, 10], [0, 0, -4, 0], [0, 0, 0, 1]]),
        // Array axes permuted: i runs anterior, j toward the subject's left, k superior.
        "ALS": Affine(rows: [[0, -1.25, 0, 10], [1, 0, 0, -10], [0, 0, 4, 0], [0, 0, 0, 1]]),
    ]

    /// A voxel grid with `affine` whose world positions satisfy `inside` get label 1; the image is a mild
    /// ramp so windowing has something to do.
    static func volumes(_ affine: Affine, shape: [Int] = shape, inside: ([Double]) -> Bool) -> (Volume<Float>, Volume<Int32>) {
        var image = Volume<Float>(shape: shape, repeating: 0, affine: affine)
        var labels = Volume<Int32>(shape: shape, repeating: 0, affine: affine)
        for k in 0..<shape[2] {
            for j in 0..<shape[1] {
                for i in 0..<shape[0] {
                    image[i, j, k] = Float(50 + (i * 7 + j * 3 + k) % 40)
                    if inside(affine.apply([Double(i), Double(j), Double(k)])) { labels[i, j, k] = 1 }
                }
            }
        }
        return (image, labels)
    }

    /// Decoded montage and, per pixel, whether it is tinted red by label 1.
    static func render(_ image: Volume<Float>, _ labels: Volume<Int32>, _ options: QCMontageOptions) throws -> (PNGTestDecoder, [[Bool]]) {
        let png = try PNGTestDecoder(try PNGWriter.encode(QCMontage.render(image: image, labels: labels, options: options)))
        let red = (0..<png.height).map { y in (0..<png.width).map { x in let p = png.pixel(x, y); return Int(p[0]) > Int(p[1]) + 20 } }
        return (png, red)
    }

    static var redOverlay: QCMontageOptions {
        var o = QCMontageOptions(colors: [1: (255, 0, 0)])
        o.slices = 1; o.columns = 1; o.gap = 0
        return o
    }

    @Test(arguments: ["RAS", "LPS", "LPI", "ALS"])
    func theSubjectsLeftIsOnTheImagesRight(_ code: String) throws {
        let affine = try #require(Self.affines[code])
        #expect(Orientation(affine: affine)?.code == code)
        // World x < 0 is the subject's left (RAS+ world).
        let (image, labels) = Self.volumes(affine) { $0[0] < -2 }
        let (png, red) = try Self.render(image, labels, Self.redOverlay)
        let leftHalf = red.flatMap { $0.prefix(png.width / 2) }, rightHalf = red.flatMap { $0.suffix(png.width / 2) }
        #expect(rightHalf.filter { $0 }.count > 20)
        #expect(leftHalf.allSatisfy { !$0 })
    }

    @Test(arguments: ["RAS", "LPS", "LPI", "ALS"])
    func anteriorIsAtTheTop(_ code: String) throws {
        let affine = try #require(Self.affines[code])
        let (image, labels) = Self.volumes(affine) { $0[1] > 2 }  // world y > 0: anterior
        let (png, red) = try Self.render(image, labels, Self.redOverlay)
        #expect(red.prefix(png.height / 2).flatMap { $0 }.filter { $0 }.count > 20)
        #expect(red.suffix(png.height / 2).flatMap { $0 }.allSatisfy { !$0 })
    }

    @Test(arguments: ["RAS", "LPI"])
    func tilesRunFromInferiorToSuperior(_ code: String) throws {
        let affine = try #require(Self.affines[code])
        // Label 1 everywhere; the image is brightest superiorly, so tile brightness must rise tile by tile.
        var (image, labels) = Self.volumes(affine) { _ in true }
        for n in 0..<image.count {
            let k = n / (Self.shape[0] * Self.shape[1])
            image.voxels[n] = Float(affine.apply([0, 0, Double(k)])[2] + 100)
        }
        labels = labels.map { _ in 0 }
        var options = QCMontageOptions()
        options.slices = 6; options.columns = 3; options.gap = 1
        let png = try PNGTestDecoder(try PNGWriter.encode(QCMontage.render(image: image, labels: labels, options: options)))
        #expect(png.width == 3 * 20 + 4 * 1 && png.height == 2 * 20 + 3 * 1)  // 16 rows of 1.25 mm → 20 square pixels
        let means = (0..<6).map { t -> Double in
            let x0 = 1 + (t % 3) * 21, y0 = 1 + (t / 3) * 21
            return Double((0..<20).reduce(0) { s, y in s + Int(png.pixel(x0 + 10, y0 + y)[0]) }) / 20
        }
        #expect(means == means.sorted() && means.first! < means.last!, "\(means)")
    }

    @Test func slicesAreSpreadThroughTheLabelledRange() throws {
        var labels = Volume<Int32>(shape: [2, 2, 40], repeating: 0, affine: .identity)
        for k in 10..<30 { labels[0, 0, k] = 3 }
        #expect(QCMontage.sliceIndices(labels: labels, depth: 40, count: 4) == [12, 17, 22, 27])
        #expect(QCMontage.sliceIndices(labels: nil, depth: 5, count: 12) == [0, 1, 2, 3, 4])
        #expect(QCMontage.sliceIndices(labels: labels.map { _ in 0 }, depth: 40, count: 2) == [10, 30])
    }

    @Test func windowUsesTheForegroundPercentiles() {
        // 900 air voxels at 0 and tissue at 1...100: the mean is 5.05, so the foreground is 6...100 (95 values)
        // and its 1st/99th percentiles are 6 + 0.94 and 6 + 93.06; the air never enters the window.
        let voxels = [Float](repeating: 0, count: 900) + (1...100).map(Float.init)
        let w = QCMontage.intensityWindow(voxels)
        #expect(abs(w.lower - 6.94) < 1e-9 && abs(w.upper - 99.06) < 1e-9)
    }

    @Test func fallbackColoursAreStableAndDistinct() {
        let colours = (1...60).map(QCMontage.fallbackColor(for:))
        #expect(colours == (1...60).map(QCMontage.fallbackColor(for:)))
        #expect(Set(colours).count == 60)
        #expect(QCMontage.fallbackColor(for: 1) != QCMontage.fallbackColor(for: 2))
    }

    @Test func labelsOffTheImageGridAreRefused() throws {
        let (image, _) = Self.volumes(Self.affines["RAS"]!) { _ in false }
        let (_, labels) = Self.volumes(Self.affines["LPS"]!) { _ in false }
        #expect(throws: LabelVolumeError.self) { try QCMontage.render(image: image, labels: labels) }
    }
}
