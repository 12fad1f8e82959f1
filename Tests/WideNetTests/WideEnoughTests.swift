import Foundation
import Testing
@testable import WideNet

/// How wide is wide enough (`sweep --ns`): the fractions, m*(n) and its exponent on a table whose
/// answers are worked out by hand, and a run whose summary agrees with its members' own files.
@Suite struct WideEnoughTests {
    /// m*(n) = 4, 16, 64 for n = 2, 4, 8: slope 2 exactly; a resample can only move it on the grid.
    @Test func tableGivesFractionsMStarAndExponent() {
        let widths = [4, 16, 64, 256]
        // held[n][m][seed], four seeds: n = 2 holds from m = 4, n = 4 from 16, n = 8 from 64 (one seed short below).
        func cells(from first: Int, shortBelow: Bool) -> [[Bool]] {
            widths.indices.map { i in i >= first ? [true, true, true, true] : (shortBelow && i == first - 1 ? [true, true, true, false] : [false, false, false, false]) }
        }
        let table = WideEnoughTable(ns: [2, 4, 8], widths: widths, held: [cells(from: 0, shortBelow: false), cells(from: 1, shortBelow: false),
                                                                         cells(from: 2, shortBelow: true)], delta: 0.1)
        let all = Array(0..<4)
        #expect(table.fractions(seedsUsed: all)[2] == [0, 0.75, 1, 1])
        #expect(table.mStar(seedsUsed: all) == [4, 16, 64])
        let fit = table.exponent(seed: 1)
        #expect(fit.identified && abs((fit.value ?? .nan) - 2) < 1e-12, "\(fit)")
        // A resample without the short seed (probability (3/4)^4 ≈ 0.32) finds m*(8) = 16: the least-squares
        // slope through (2, 4), (4, 16), (8, 16) on log-log axes is 1, so the interval reaches down to it.
        #expect(abs((fit.low ?? .nan) - 1) < 1e-12 && abs((fit.high ?? .nan) - 2) < 1e-12, "\(fit)")
        // δ = 0.3 accepts 3 of 4 seeds: m*(8) = 16.
        #expect(WideEnoughTable(ns: [2, 4, 8], widths: widths, held: table.held, delta: 0.3).mStar(seedsUsed: all) == [4, 16, 16])
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
