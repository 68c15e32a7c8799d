/// A 3D image on a voxel grid with its voxel-to-world affine.
///
/// Axes are the array axes of the file, `(i, j, k)`, and voxels are stored with `i` fastest (NIfTI order).
/// After `canonicalised()` the axes are LegSeg's canonical LPS layout, which is the spec's `[z][y][x]` array:
/// `i` = x runs from the subject's right to left, `j` = y from anterior to posterior, `k` = z from inferior
/// to superior. Anatomical directions always come from `affine`, never from the array order.
public struct Volume<Voxel: Sendable>: Sendable {
    /// Number of voxels along `(i, j, k)`.
    public private(set) var shape: [Int]
    /// Voxels, `i` fastest: index = i + ni * (j + nj * k).
    public var voxels: [Voxel]
    /// Voxel-to-world transform, world in RAS+ millimetres.
    public var affine: Affine

    public init(shape: [Int], voxels: [Voxel], affine: Affine) {
        precondition(shape.count == 3 && shape.allSatisfy { $0 >= 0 }, "Volume shape must be 3 non-negative sizes")
        precondition(voxels.count == shape[0] * shape[1] * shape[2], "voxel count does not match shape \(shape)")
        self.shape = shape
        self.voxels = voxels
        self.affine = affine
    }

    public init(shape: [Int], repeating value: Voxel, affine: Affine) {
        self.init(shape: shape, voxels: [Voxel](repeating: value, count: shape.reduce(1, *)), affine: affine)
    }

    public var count: Int { voxels.count }

    /// Voxel spacing in millimetres along `(i, j, k)`, from the affine.
    public var spacing: [Double] { affine.spacing }

    /// Volume of one voxel in cubic millimetres.
    public var voxelVolumeMM3: Double { abs(affine.determinant3) }

    @inline(__always)
    public func index(_ i: Int, _ j: Int, _ k: Int) -> Int { i + shape[0] * (j + shape[1] * k) }

    public subscript(i: Int, j: Int, k: Int) -> Voxel {
        get { voxels[index(i, j, k)] }
        set { voxels[index(i, j, k)] = newValue }
    }

    /// Same grid, new voxel values.
    public func map<T: Sendable>(_ transform: (Voxel) throws -> T) rethrows -> Volume<T> {
        Volume<T>(shape: shape, voxels: try voxels.map(transform), affine: affine)
    }

    /// True when both volumes share shape and (to `tolerance` mm) affine, so their voxels line up.
    public func isOnSameGrid<T>(as other: Volume<T>, tolerance: Double = 1e-4) -> Bool {
        shape == other.shape && affine.maxAbsDifference(other.affine) <= tolerance
    }
}

// MARK: - Sub-volumes

/// A box of voxel indices, `lower` inclusive and `upper` exclusive, per axis `(i, j, k)`.
public struct VoxelBox: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var lower: [Int]
    public var upper: [Int]

    public init(lower: [Int], upper: [Int]) {
        precondition(lower.count == 3 && upper.count == 3, "VoxelBox needs three axes")
        self.lower = lower
        self.upper = upper
    }

    public var size: [Int] { (0..<3).map { max(0, upper[$0] - lower[$0]) } }
    public var isEmpty: Bool { size.contains(0) }

    /// The box grown by `margin` voxels on every side, then clipped to `shape`.
    public func expanded(by margin: Int, within shape: [Int]) -> VoxelBox {
        VoxelBox(lower: (0..<3).map { max(0, lower[$0] - margin) },
                 upper: (0..<3).map { min(shape[$0], upper[$0] + margin) })
    }

    public var description: String {
        (0..<3).map { "\(lower[$0])..<\(upper[$0])" }.joined(separator: ", ")
    }
}

extension Volume {
    /// The sub-volume of `size` voxels whose first voxel is `origin` in this volume's indices. Parts that fall
    /// outside this volume (negative origin, or past the end) are filled with `fill`, so this one operation
    /// serves cropping, padding and patch extraction. The affine is shifted so every voxel keeps its world position.
    public func extracting(origin: [Int], size: [Int], fill: Voxel) -> Volume {
        precondition(origin.count == 3 && size.count == 3 && size.allSatisfy { $0 >= 0 }, "bad sub-volume request")
        var out = [Voxel](repeating: fill, count: size[0] * size[1] * size[2])
        // Overlap of the requested box with this volume, in this volume's indices.
        let lo = (0..<3).map { max(0, origin[$0]) }
        let hi = (0..<3).map { min(shape[$0], origin[$0] + size[$0]) }
        if (0..<3).allSatisfy({ lo[$0] < hi[$0] }) {
            let rowLength = hi[0] - lo[0]
            voxels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for k in lo[2]..<hi[2] {
                        for j in lo[1]..<hi[1] {
                            let s = index(lo[0], j, k)
                            let d = (lo[0] - origin[0]) + size[0] * ((j - origin[1]) + size[1] * (k - origin[2]))
                            for n in 0..<rowLength { dst[d + n] = src[s + n] }
                        }
                    }
                }
            }
        }
        return Volume(shape: size, voxels: out, affine: affine.translatedIndex(by: origin))
    }

    /// The voxels inside `box`, which must lie within the volume.
    public func cropped(to box: VoxelBox) -> Volume {
        precondition((0..<3).allSatisfy { box.lower[$0] >= 0 && box.upper[$0] <= shape[$0] }, "crop box \(box) outside \(shape)")
        // Every voxel of the box lies inside, so the fill value is never used; an empty volume has none to give.
        guard let anyVoxel = voxels.first else { return Volume(shape: box.size, voxels: [], affine: affine.translatedIndex(by: box.lower)) }
        return extracting(origin: box.lower, size: box.size, fill: anyVoxel)
    }

    /// The volume grown by `lower` voxels before and `upper` voxels after each axis, filled with `fill`.
    public func padded(lower: [Int], upper: [Int], fill: Voxel) -> Volume {
        extracting(origin: lower.map { -$0 }, size: (0..<3).map { shape[$0] + lower[$0] + upper[$0] }, fill: fill)
    }

    /// Writes `patch` into this volume where `patch`'s voxel 0 sits at `origin` (the inverse of `extracting`);
    /// parts of the patch that fall outside are dropped.
    public mutating func paste(_ patch: Volume, at origin: [Int]) {
        let lo = (0..<3).map { max(0, origin[$0]) }
        let hi = (0..<3).map { min(shape[$0], origin[$0] + patch.shape[$0]) }
        guard (0..<3).allSatisfy({ lo[$0] < hi[$0] }) else { return }
        for k in lo[2]..<hi[2] {
            for j in lo[1]..<hi[1] {
                for i in lo[0]..<hi[0] {
                    self[i, j, k] = patch[i - origin[0], j - origin[1], k - origin[2]]
                }
            }
        }
    }

    /// The smallest box holding every voxel for which `isInside` is true, or nil when there is none.
    public func boundingBox(where isInside: (Voxel) -> Bool) -> VoxelBox? {
        var lower = shape, upper = [0, 0, 0]
        for k in 0..<shape[2] {
            for j in 0..<shape[1] {
                for i in 0..<shape[0] where isInside(self[i, j, k]) {
                    lower = [min(lower[0], i), min(lower[1], j), min(lower[2], k)]
                    upper = [max(upper[0], i + 1), max(upper[1], j + 1), max(upper[2], k + 1)]
                }
            }
        }
        return upper[0] > 0 ? VoxelBox(lower: lower, upper: upper) : nil
    }
}

extension Affine {
    /// The affine of a grid whose voxel 0 is voxel `origin` of this grid.
    public func translatedIndex(by origin: [Int]) -> Affine {
        var a = self
        for r in 0..<3 {
            a[r, 3] = self[r, 3] + self[r, 0] * Double(origin[0]) + self[r, 1] * Double(origin[1]) + self[r, 2] * Double(origin[2])
        }
        return a
    }
}
