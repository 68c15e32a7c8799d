import Foundation

/// Learning rate as a function of the global batch index (0-based; a resumed run continues the count).
public enum LearningRateSchedule: Codable, Sendable, Equatable {
    case constant
    /// Multiply by `gamma` every `stepSize` batches.
    case step(stepSize: Int, gamma: Double)
    /// The original's schedule over `totalBatches` (spec 4.5): cosine warm-up 0.2 → 1 until 25 %, 1 until 40 %,
    /// cosine decay 1 → 0.1 until 95 %, then 0.1.
    case segmentData(totalBatches: Int)

    /// The multiplier of the base learning rate at batch `b`.
    public func multiplier(batch b: Int) -> Double {
        switch self {
        case .constant: return 1
        case .step(let size, let gamma): return pow(gamma, Double(b / max(size, 1)))
        case .segmentData(let total):
            let n = Double(total), x = Double(b)
            let n1 = 0.25 * n, n2 = 0.40 * n, n3 = 0.95 * n
            if x < n1 { return 0.2 + 0.8 * (1 - cos(Double.pi * x / n1)) / 2 }
            if x < n2 { return 1 }
            if x < n3 { return 0.1 + 0.9 * (1 + cos(Double.pi * (x - n2) / (n3 - n2))) / 2 }
            return 0.1
        }
    }

    public func learningRate(base: Double, batch: Int) -> Float { Float(base * multiplier(batch: batch)) }
}
