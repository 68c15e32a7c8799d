/// The NIfTI voxel datatypes LegSeg reads (codes from nifti1.h). Complex, RGB and 128-bit types are refused.
public enum NIfTIDataType: Int, CaseIterable, Sendable, CustomStringConvertible {
    case uint8 = 2
    case int16 = 4
    case int32 = 8
    case float32 = 16
    case float64 = 64
    case int8 = 256
    case uint16 = 512
    case uint32 = 768
    case int64 = 1024

    public var bytesPerVoxel: Int {
        switch self {
        case .uint8, .int8: 1
        case .int16, .uint16: 2
        case .int32, .uint32, .float32: 4
        case .float64, .int64: 8
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    public var description: String { name }

    /// The name nibabel and numpy use (`uint8`, `float32`, ...): the same as `description`.
    public var name: String {
        switch self {
        case .uint8: "uint8"
        case .int16: "int16"
        case .int32: "int32"
        case .float32: "float32"
        case .float64: "float64"
        case .int8: "int8"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .int64: "int64"
        }
    }
}
