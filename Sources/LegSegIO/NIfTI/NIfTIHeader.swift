/// A NIfTI-1 or NIfTI-2 header, decoded into one version-independent value.
///
/// Floating-point fields are kept as `Double`: a NIfTI-1 file's float32 values convert to Double and back
/// without loss, so a header read from a NIfTI-1 file and written again carries its geometry bit for bit.
public struct NIfTIHeader: Equatable, Sendable {
    public enum Version: Int, Sendable { case nifti1 = 1, nifti2 = 2 }
    public enum ByteOrder: String, Sendable { case little, big }
    /// Where the voxel-to-world transform came from (NIfTI's methods 3, 2 and 1).
    public enum AffineSource: String, Sendable { case sform, qform, pixdim }

    public var version: Version = .nifti1
    public var byteOrder: ByteOrder = .little
    public var dimInfo: UInt8 = 0
    /// dim[0] is the number of dimensions; dim[1...] their sizes (all 8 entries kept as stored).
    public var dim: [Int] = [3, 1, 1, 1, 1, 1, 1, 1]
    public var intentP1 = 0.0, intentP2 = 0.0, intentP3 = 0.0
    public var intentCode = 0
    public var intentName = ""
    public var datatypeCode = NIfTIDataType.float32.rawValue
    public var bitpix = 32
    public var sliceStart = 0, sliceEnd = 0, sliceCode = 0
    /// pixdim[0] is qfac (±1); pixdim[1...3] voxel sizes; pixdim[4] the repetition time.
    public var pixdim: [Double] = [1, 1, 1, 1, 0, 0, 0, 0]
    public var voxOffset = 352
    public var sclSlope = 0.0, sclInter = 0.0
    public var xyztUnits = 0
    public var calMax = 0.0, calMin = 0.0
    public var sliceDuration = 0.0, toffset = 0.0
    public var descrip = "", auxFile = ""
    public var qformCode = 0, sformCode = 0
    public var quaternB = 0.0, quaternC = 0.0, quaternD = 0.0
    public var qoffsetX = 0.0, qoffsetY = 0.0, qoffsetZ = 0.0
    public var srowX: [Double] = [0, 0, 0, 0], srowY: [Double] = [0, 0, 0, 0], srowZ: [Double] = [0, 0, 0, 0]

    public init() {}

    public var datatype: NIfTIDataType? { NIfTIDataType(rawValue: datatypeCode) }

    /// Sizes of the first three axes (missing axes count as 1).
    public var shape3: [Int] { (1...3).map { $0 <= dim[0] ? dim[$0] : 1 } }

    /// Number of 3D volumes: the product of dim[4...dim[0]].
    public var volumeCount: Int { dim[0] < 4 ? 1 : (4...dim[0]).reduce(1) { $0 * dim[$1] } }

    // MARK: Geometry

    /// The sform matrix (srow_x, srow_y, srow_z), whatever sform_code says.
    public var sformAffine: Affine { Affine(srowX: srowX, srowY: srowY, srowZ: srowZ) }

    /// The qform matrix from the quaternion, offsets, voxel sizes and qfac, as the NIfTI standard defines it
    /// (method 2), whatever qform_code says.
    public var qformAffine: Affine {
        var b = quaternB, c = quaternC, d = quaternD
        var a = 1.0 - (b * b + c * c + d * d)
        if a < 1e-7 {  // numerically a unit quaternion with a = 0: renormalise (b, c, d) as nifti1_io does
            let n = 1.0 / (b * b + c * c + d * d).squareRoot()
            b *= n; c *= n; d *= n
            a = 0
        } else {
            a = a.squareRoot()
        }
        let dx = pixdim[1] > 0 ? pixdim[1] : 1, dy = pixdim[2] > 0 ? pixdim[2] : 1, dz = pixdim[3] > 0 ? pixdim[3] : 1
        let qfac = pixdim[0] < 0 ? -1.0 : 1.0
        let r = [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
        ]
        let offsets = [qoffsetX, qoffsetY, qoffsetZ]
        return Affine(rows: (0..<3).map { i in [r[i][0] * dx, r[i][1] * dy, r[i][2] * dz * qfac, offsets[i]] } + [[0, 0, 0, 1]])
    }

    /// The voxel-to-world transform the NIfTI standard prescribes: the sform when sform_code > 0, else the qform
    /// when qform_code > 0, else a scaling by pixdim. A chosen matrix that is singular or not finite is passed
    /// over (with a warning from the reader) for the next one.
    public var bestAffine: (affine: Affine, source: AffineSource) {
        if sformCode > 0, sformAffine.isUsable { return (sformAffine, .sform) }
        if qformCode > 0, qformAffine.isUsable { return (qformAffine, .qform) }
        return (pixdimAffine, .pixdim)
    }

    /// Method 1 of the standard: x = pixdim[1]·i, y = pixdim[2]·j, z = pixdim[3]·k (sizes ≤ 0 or not finite
    /// count as 1). nibabel differs here: it centres the grid and flips x, as Analyze did.
    public var pixdimAffine: Affine {
        Affine.scaling((1...3).map { pixdim[$0].isFinite && pixdim[$0] > 0 ? pixdim[$0] : 1 })
    }

    /// Sets qform and sform (both code 1, scanner) from an affine. The sform holds it exactly (to float32);
    /// the qform holds its nearest rotation and the column lengths, as NIfTI's quaternion form requires.
    public mutating func setGeometry(from affine: Affine, code: Int = 1) {
        sformCode = code
        qformCode = code
        srowX = affine.rows[0]; srowY = affine.rows[1]; srowZ = affine.rows[2]
        let spacing = affine.spacing
        for a in 0..<3 { pixdim[a + 1] = spacing[a] }
        var r = (0..<3).map { row in (0..<3).map { col in affine[row, col] / (spacing[col] > 0 ? spacing[col] : 1) } }
        var qfac = 1.0
        if affine.determinant3 < 0 {  // a left-handed grid: the quaternion takes the right-handed part, qfac = -1
            qfac = -1
            for row in 0..<3 { r[row][2] = -r[row][2] }
        }
        pixdim[0] = qfac
        let (b, c, d) = NIfTIHeader.quaternion(fromRotation: r)
        quaternB = b; quaternC = c; quaternD = d
        qoffsetX = affine[0, 3]; qoffsetY = affine[1, 3]; qoffsetZ = affine[2, 3]
    }

    /// (b, c, d) of the unit quaternion with a ≥ 0 closest to rotation matrix `r` (Shepperd's method).
    static func quaternion(fromRotation r: [[Double]]) -> (Double, Double, Double) {
        let trace = r[0][0] + r[1][1] + r[2][2]
        let a, b, c, d: Double
        if trace > 0 {
            let s = (trace + 1).squareRoot() * 2
            a = 0.25 * s; b = (r[2][1] - r[1][2]) / s; c = (r[0][2] - r[2][0]) / s; d = (r[1][0] - r[0][1]) / s
        } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
            let s = max(1e-12, 1 + r[0][0] - r[1][1] - r[2][2]).squareRoot() * 2
            a = (r[2][1] - r[1][2]) / s; b = 0.25 * s; c = (r[0][1] + r[1][0]) / s; d = (r[0][2] + r[2][0]) / s
        } else if r[1][1] > r[2][2] {
            let s = max(1e-12, 1 + r[1][1] - r[0][0] - r[2][2]).squareRoot() * 2
            a = (r[0][2] - r[2][0]) / s; b = (r[0][1] + r[1][0]) / s; c = 0.25 * s; d = (r[1][2] + r[2][1]) / s
        } else {
            let s = max(1e-12, 1 + r[2][2] - r[0][0] - r[1][1]).squareRoot() * 2
            a = (r[1][0] - r[0][1]) / s; b = (r[0][2] + r[2][0]) / s; c = (r[1][2] + r[2][1]) / s; d = 0.25 * s
        }
        let n = (a * a + b * b + c * c + d * d).squareRoot()
        let sign = a < 0 ? -1.0 : 1.0  // q and -q are the same rotation; NIfTI stores the one with a ≥ 0
        return (sign * b / n, sign * c / n, sign * d / n)
    }
}
