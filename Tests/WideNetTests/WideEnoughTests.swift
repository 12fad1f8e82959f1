import Foundation
import Testing
@testable import WideNet

/// How wide is wide enough (`sweep --ns`): the fractions, m*(n) and its exponent on a table whose
/// answers are worked out by hand, and a run whose summary agrees with its members' own files.
@Suite struct WideEnoughTests {
    /// m*(n) = 4, 16, 64, 256 for n = 2, 4, 8, 16: slope 2 exactly; a resample can only move it on the grid.
    @Test func tableGivesFractionsMStarAndExponent() {
        let widths = [2, 4, 16, 64, 256]
        // held[n][m][seed], five seeds: n = 2 holds from m = 4, n = 4 from 16, n = 8 from 64 (one seed short below), n = 16 from 256.
        func cells(from first: Int, shortBelow: Bool) -> [[Bool]] {
            widths.indices.map { i in
                i >= first ? [Bool](repeating: true, count: 5) : (shortBelow && i == first - 1 ? [true, true, true, true, false] : [Bool](repeating: false, count: 5))
            }
        }
        let held = [cells(from: 1, shortBelow: false), cells(from: 2, shortBelow: false), cells(from: 3, shortBelow: true), cells(from: 4, shortBelow: false)]
        let table = WideEnoughTable(ns: [2, 4, 8, 16], widths: widths, held: held, delta: 0.1)
        let all = Array(0..<5)
        #expect(table.fractions(seedsUsed: all)[2] == [0, 0, 0.8, 1, 1])
        #expect(table.mStar(seedsUsed: all) == [4, 16, 64, 256])
        let fit = table.exponent(seed: 1)
        #expect(fit.identified && abs((fit.value ?? .nan) - 2) < 1e-12, "\(fit)")
        // A resample without the short seed (probability (4/5)^5 ≈ 0.33) finds m*(8) = 16: the least-squares slope
        // through log2 points (1, 2), (2, 4), (3, 4), (4, 8) is Sxy/Sxx = 9/5, so the interval reaches down to it.
        #expect(abs((fit.low ?? .nan) - 1.8) < 1e-12 && abs((fit.high ?? .nan) - 2) < 1e-12, "\(fit)")
        // δ = 0.3 accepts 4 of 5 seeds: m*(8) = 16.
        #expect(WideEnoughTable(ns: [2, 4, 8, 16], widths: widths, held: held, delta: 0.3).mStar(seedsUsed: all) == [4, 16, 16, 256])

        // Not identified: fewer than five seeds; m*(n) at the smallest width (only an upper bound); three points for two parameters.
        let four = held.map { $0.map { Array($0.prefix(4)) } }
        #expect(!WideEnoughTable(ns: [2, 4, 8, 16], widths: widths, held: four, delta: 0.1).exponent(seed: 1).identified)
        let bounded = WideEnoughTable(ns: [2, 4, 8, 16], widths: Array(widths.dropFirst()), held: held.map { Array($0.dropFirst()) }, delta: 0.1)
        #expect(bounded.mStar(seedsUsed: all).first == 4 && !bounded.exponent(seed: 1).identified)
        let three = WideEnoughTable(ns: [2, 4, 8], widths: widths, held: Array(held.prefix(3)), delta: 0.1).exponent(seed: 1)
        #expect(!three.identified && three.reason?.contains("needs 4") == true, "\(three)")
    }

    /// The sweep's fractions are the members' own: bound held at every step and λ_min(H(k)) ≥ λ0/2.
    @Test func sweepFractionsAreTheMembers() throws {
        let out = try CLITests.scratch().appendingPathComponent("wide")
        let (ns, widths, seeds) = ([6, 12], [8, 32, 128], 3)
        let r = try CLITests.run(["sweep", "--ns", "6,12", "--widths", "8,32,128", "--seeds", "\(seeds)", "--steps", "20", "--d", "4",
                                  "--backend", "cpu", "--quiet", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let summary = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
        guard case .array(let fractions)? = summary["fractions"], case .array(let lambda0)? = summary["lambda0"] else {
            Issue.record("no fractions in \(summary)"); return
        }
        for (i, n) in ns.enumerated() {
            let l0 = try #require(lambda0[i].doubleValue)
            guard case .array(let row) = fractions[i] else { Issue.record("fractions[\(i)]"); continue }
            for (k, m) in widths.enumerated() {
                var held = 0
                for j in 0..<seeds {
                    let dir = out.appendingPathComponent("n\(n)-width-\(m)-s\(j)")
                    let s = try RunFiles.object(in: dir.appendingPathComponent("summary.json"), shown: dir.path)
                    let rows = try RunDirectory.metricsRows(in: dir)
                    let least = rows.compactMap { $0["lambda_min_h"]?.doubleValue }.min() ?? -.infinity
                    #expect(rows.filter { $0["lambda_min_h"] != nil }.count == 21, "λ_min(H(k)) at every step")
                    if s["bound_holds"] == .bool(true) && least >= l0 / 2 { held += 1 }
                }
                #expect(row[k].doubleValue == Double(held) / Double(seeds), "n \(n), m \(m)")
            }
        }
        #expect(summary["theorem_exponent"]?.doubleValue.map { $0 > 6 } == true, "n⁶/λ0⁴ grows faster than n⁶ as λ0 falls")
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("Seeds whose bound and λ_min(H(k)) ≥ λ0/2 held throughout"), "the sweep's own report")
    }
}
