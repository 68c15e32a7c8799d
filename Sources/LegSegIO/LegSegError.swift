/// The common shape of LegSeg's errors: the file concerned (when there is one) and a one-line description that
/// names it. The CLI prints `legseg: error: <description>` and exits non-zero; libraries never print.
public protocol LegSegError: Error, CustomStringConvertible, Sendable {
    var file: String? { get }
}
