import Foundation
import Testing
@testable import LegSegPipeline

@Suite struct RegionFitTests {
    func cost(_ p: [[Double]], _ f: [BodyRegion]) -> Double {
        zip(p, f).reduce(0) { s, e in s - log(max(e.0[e.1.rawValue] / e.0.reduce(0, +), 1e-9)) }
    }

    /// Every non-decreasing sequence over 5 levels of length n, filtered by the run rule (inner runs ≥ minRun).
    func allValid(_ n: Int, minRun: Int) -> [[BodyRegion]] {
        var out: [[BodyRegion]] = []
        func extend(_ seq: [Int]) {
            if seq.count == n {
                var runs: [Int] = [], last = -1
                for v in seq { if v == last { runs[runs.count - 1] += 1 } else { runs.append(1); last = v } }
                if runs.count <= 2 || runs[1..<(runs.count - 1)].allSatisfy({ $0 >= minRun }) {
                    out.append(seq.map { BodyRegion(rawValue: $0)! })
                }
                return
            }
            for v in (seq.last ?? 0)..<5 { extend(seq + [v]) }
        }
        extend([])
        return out
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func dynamicProgrammeFindsTheBruteForceOptimum(seed: UInt64) {
        var s = seed
        let n = 9
        let p: [[Double]] = (0..<n).map { _ in (0..<5).map { _ in s = s &* 6364136223846793005 &+ 1; return Double(s >> 40) / Double(1 << 24) + 0.01 } }
        let fit = RegionFit(minimumRunMM: 18).fit(p, sliceThicknessMM: 6)  // 3 slices
        let best = allValid(n, minRun: 3).map { cost(p, $0) }.min()!
        #expect(abs(cost(p, fit) - best) < 1e-9)
        #expect(zip(fit, fit.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test func noisyClassesBecomeAStaircaseAndShortScansStayFeasible() {
        func onehot(_ r: BodyRegion) -> [Double] { (0..<5).map { $0 == r.rawValue ? 0.9 : 0.025 } }
        var truth: [BodyRegion] = Array(repeating: .lowerLeg, count: 10) + Array(repeating: .knee, count: 6) + Array(repeating: .thigh, count: 12)
        var observed = truth
        observed[3] = .thigh; observed[20] = .lowerLeg  // isolated misclassifications
        let fit = RegionFit(minimumRunMM: 30).fit(observed.map(onehot), sliceThicknessMM: 6)
        #expect(fit == truth)
        let ranges = RegionFit.sliceRanges(fit)
        #expect(ranges[.lowerLeg] == 0..<16 && ranges[.thigh] == 10..<28)
        // Two slices, three regions observed: still a valid answer.
        truth = [.ankle, .hip]
        #expect(RegionFit().fit(truth.map(onehot), sliceThicknessMM: 10).count == 2)
        #expect(RegionFit().fit([], sliceThicknessMM: 5).isEmpty)
    }
}
