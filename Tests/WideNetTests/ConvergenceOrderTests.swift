import Foundation
import Testing
@testable import WideNet

/// The fitted order of error ≈ C·h^p (every `widenet resnet` fit): slope, standard error, intercept,
/// R² and the 95 % interval slope ± t₀.₉₇₅,ₖ₋₂·s.e. against scipy.stats.linregress and scipy.stats.t
/// on the logs; fewer than 2 residual degrees of freedom leave it unidentified with a reason.
@Suite struct ConvergenceOrderTests {
    /// scipy's [slope, stderr, low, high, intercept, r², t₀.₉₇₅,ₖ₋₂] of log y on log x per case.
    static func scipy(_ cases: [([Double], [Double])]) throws -> [[Double]] {
        let script = """
        import sys, json
        import numpy as np
        from scipy import stats
        out = []
        for x, y in json.loads(sys.argv[1]):
            r = stats.linregress(np.log(x), np.log(y))
            t = stats.t.ppf(0.975, len(x) - 2)
            out.append([r.slope, r.stderr, r.slope - t * r.stderr, r.slope + t * r.stderr, r.intercept, r.rvalue ** 2, t])
        print(json.dumps(out))
        """
        let input = String(decoding: try JSONSerialization.data(withJSONObject: cases.map { [$0.0, $0.1] }), as: UTF8.self)
        let py = try NPYTests.python(["-c", script, input])
        try #require(py.status == 0, "\(py.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(py.output.utf8)) as? [[Double]])
    }

    static func close(_ got: Double?, _ want: Double, _ what: String) {
        #expect(abs((got ?? .nan) - want) <= 1e-9 * max(abs(want), 1), "\(what): \(got ?? .nan), scipy \(want)")
    }

    @Test(.enabled(if: AveragedSGDTests.hasScipy, "python3 with numpy and scipy is not available"))
    func orderAndIntervalMatchScipy() throws {
        let h4 = [0.125, 0.0625, 0.03125, 0.015625]
        let cases: [([Double], [Double])] = [
            (h4, [0.13, 0.061, 0.032, 0.0149]),                             // 2 dof: t = 4.30, not 2
            ([0.5, 0.25, 0.125, 0.0625, 0.03125], [0.9, 0.2, 0.06, 0.013, 0.0035]),
            ((0..<8).map { Foundation.pow(2, -Double($0)) }, [3, 1.4, 0.8, 0.33, 0.2, 0.07, 0.04, 0.021]),
        ]
        let want = try Self.scipy(cases)
        for ((h, e), ref) in zip(cases, want) {
            let fit = ConvergenceOrder(h: h, error: e)
            #expect(fit.identified && fit.reason == nil && fit.points == h.count)
            for (got, (expected, name)) in zip([fit.order, fit.standardError, fit.interval?[0], fit.interval?[1], fit.intercept, fit.r2],
                                               zip(ref, ["order", "standard error", "low", "high", "intercept", "r²"])) {
                Self.close(got, expected, "\(name) of \(h.count) points")
            }
            // The FittedValue reading repeats them.
            #expect(fit.value == fit.order && fit.low == fit.interval?[0] && fit.high == fit.interval?[1])
        }
        // The 2-dof interval is ±4.30 s.e. (not ±2).
        let two = ConvergenceOrder(h: h4, error: cases[0].1)
        Self.close(((two.interval?[1] ?? 0) - (two.order ?? 0)) / (two.standardError ?? 1), want[0][6], "t quantile at 2 dof")
        // An error at the floor is left out: the fit is that of the other four, and says nothing is wrong.
        let floored = ConvergenceOrder(h: h4 + [0.0078125], error: cases[0].1 + [1e-15])
        #expect(floored.points == 4 && floored.identified)
        Self.close(floored.interval?[1], want[0][3], "high with a floored error left out")
    }

    /// 0–3 usable points: not identified, no interval, a reason naming the degrees of freedom; the
    /// descriptive line is still given from 2 points and the standard error from 3.
    @Test func fewerThanTwoResidualDegreesOfFreedomAreNotIdentified() throws {
        let h = [0.125, 0.0625, 0.03125], e = [0.13, 0.061, 0.032]
        for k in 0...3 {
            let fit = ConvergenceOrder(h: Array(h.prefix(k)), error: Array(e.prefix(k)), noun: "depths")
            #expect(!fit.identified && fit.interval == nil && fit.value == nil && fit.low == nil && fit.high == nil, "\(k) points")
            #expect(fit.reason?.contains("\(k) depth\(k == 1 ? "" : "s") for 2 parameters") == true && fit.reason?.contains("residual degrees of freedom (4 depths)") == true,
                    "\(fit.reason ?? "no reason")")
            #expect((fit.order != nil) == (k >= 2) && (fit.standardError != nil) == (k == 3), "\(k) points")
        }
        // Two of four at the floor: two usable, and the reason says what was left out.
        let fit = ConvergenceOrder(h: h + [0.015625], error: [0.13, 0.061, 1e-14, 0], noun: "depths")
        #expect(!fit.identified && fit.points == 2 && fit.reason?.contains("2 of 4 left out") == true, "\(fit.reason ?? "")")
        // Encoded: interval and reason are listed (null / the text), and the JSON reads as "not identified: …".
        let o = try ConfigCoding.object(fit)
        #expect(o["interval"] == .null && o["identified"] == .bool(false) && o["order"]?.numeric != nil)
        #expect(JSONValue.object(o).displayText.hasPrefix("not identified: 2 depths"))
        let ok = try ConfigCoding.object(ConvergenceOrder(h: h + [0.015625], error: e + [0.0149]))
        #expect(JSONValue.object(ok).displayText.contains("["), "\(JSONValue.object(ok).displayText)")
    }
}
