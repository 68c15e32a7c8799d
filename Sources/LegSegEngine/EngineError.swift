/// Errors thrown by LegSegEngine and by backends. Each case renders as one line naming the file (when there is
/// one) and the concrete values, expected versus actual.
public enum EngineError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A safetensors file is malformed (bad header, offsets outside the file, unsupported dtype, ...).
    case safetensors(file: String, problem: String)
    /// A model JSON file is unreadable or inconsistent.
    case modelFile(file: String, problem: String)
    /// The weights do not match the architecture the model file declares.
    case weights(file: String, problem: String)
    /// A tensor argument has the wrong shape or precision for an operation.
    case shape(String)
    /// The backend could not prepare or run an operation (the backend's own call and status).
    case backend(String)
    /// The requested feature is not supported by the chosen backend or architecture.
    case unsupported(String)

    public var description: String {
        switch self {
        case .safetensors(let file, let problem): return "\(file): \(problem)"
        case .modelFile(let file, let problem): return "\(file): \(problem)"
        case .weights(let file, let problem): return "\(file): \(problem)"
        case .shape(let message): return "shape error: \(message)"
        case .backend(let message): return "backend error: \(message)"
        case .unsupported(let message): return "unsupported: \(message)"
        }
    }
}
