/// LegSegEngine: tensors, the `Backend` protocol, layers and autograd (filled by the engine issue).
/// It imports no C module; backends such as LegSegDNNL implement its protocols.
public enum LegSegEngine {
    public static let summary = "tensors, backend protocol, layers, autograd"
}
