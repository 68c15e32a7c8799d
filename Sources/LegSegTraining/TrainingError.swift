import LegSegIO

/// Errors of the training library: one line each, naming the file when there is one.
public struct TrainingError: LegSegError, Equatable {
    public let file: String?
    public let problem: String

    public init(file: String? = nil, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { file.map { "\($0): \(problem)" } ?? problem }
}
