/// Why a NIfTI file was refused. `description` is one line that starts with the file's path.
public struct NIfTIError: LegSegError, Equatable {
    public enum Kind: String, Sendable {
        case unreadable          // the file cannot be opened or read
        case truncated           // fewer bytes than the header (or the header's dimensions) need
        case notNIfTI            // sizeof_hdr is neither 348 nor 540, either byte order
        case badMagic            // magic string is not n+1 / n+2 (or names a two-file .hdr/.img pair)
        case badDimensions       // dim[] zero, negative, too many, or overflowing
        case unsupportedDatatype // a datatype code LegSeg cannot read
        case badVoxOffset        // vox_offset inside the header, not an integer, or past the end of the file
        case corruptGzip         // zlib refused the stream
        case volumeOutOfRange    // a 4D volume index beyond the number of volumes
        case cannotWrite         // a write was refused (unsupported request or I/O failure)
    }

    public let file: String?
    public let kind: Kind
    public let message: String

    public init(file: String, kind: Kind, _ message: String) {
        self.file = file
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(file ?? "?"): \(message)" }
}
