import CDNNL

/// Facts about the oneDNN library LegSeg is linked against. The only module that imports CDNNL is this one.
public enum DNNLRuntime {
    /// oneDNN's version as "major.minor.patch", read from the library at run time.
    public static var version: String {
        guard let v = dnnl_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.patch)"
    }
}
