import Foundation
import Testing
@testable import WideNet

/// `widenet gram`'s power-law fit of the spectrum of H∞ (SpectrumDecay): the least-squares line
/// against numpy's polyfit on the same eigenvalues, and the exponent against the closed form
/// d/(d − 1) of the ReLU NTK on the sphere S^(d−1) (degree-k eigenvalues ∝ k^(−d), multiplicity ∝ k^(d−2)).
@Suite struct SpectrumDecayTests {
    static func gram(n: Int, d: Int, seed: Int) throws -> (dir: URL, decay: JSONObject) {
        let out = try CLITests.scratch().appendingPathComponent("gram")
        let r = try CLITests.run(["gram", "--n", "\(n)", "--d", "\(d)", "--seed", "\(seed)", "--quiet", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let summary = try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
        guard case .object(let decay)? = summary["spectrum_decay"] else { throw WideNetIOError("no spectrum_decay in \(out.path)") }
        return (out, decay)
    }

    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func fitIsNumpysLeastSquaresLine() throws {
        let (dir, decay) = try Self.gram(n: 300, d: 4, seed: 3)
        let script = """
        import sys, numpy as np
        e = np.load(sys.argv[1])[::-1]
        r = np.arange(2, len(e) // 2 + 1)
        slope, intercept = np.polyfit(np.log(r), np.log(e[r - 1]), 1)
        print(repr(float(-slope)), repr(float(intercept)))
        """
        let py = try NPYTests.python(["-c", script, dir.appendingPathComponent("gram_inf_eigenvalues.npy").path])
        try #require(py.status == 0, "\(py.output)")
        let want = py.output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(want.count == 2, "\(py.output)")
        let alpha = try #require(decay["exponent"]?.doubleValue), c = try #require(decay["intercept"]?.doubleValue)
        #expect(abs(alpha - want[0]) <= 1e-10 * want[0] && abs(c - want[1]) <= 1e-10 * abs(want[1]), "α \(alpha), C \(c) against \(want)")
        #expect(decay["first_rank"]?.doubleValue == 2 && decay["last_rank"]?.doubleValue == 150)
        let se = try #require(decay["standard_error"]?.doubleValue)
        #expect(se > 0 && se < 0.1 * alpha, "standard error \(se)")
        #expect(decay["identified"] == .bool(true))
    }

    /// Below 16 points there are no subsets to take the interval from: the fit is reported, not identified, with the reason.
    @Test func tooFewPointsForAnIntervalAreNotIdentified() throws {
        let (_, decay) = try Self.gram(n: 12, d: 3, seed: 1)
        #expect(decay["identified"] == .bool(false) && (decay["standard_error"] ?? .null) == .null, "\(decay)")
        #expect(decay["reason"]?.displayText.contains("n ≥ 16") == true, "\(decay)")
    }

    /// n = 1500 points of S^2 and S^4: α within 0.08 of 3/2 and 5/4 (the finite n leaves it a little above).
    @Test(arguments: [3, 5])
    func exponentApproachesTheSphereRate(d: Int) throws {
        let alpha = try #require(try Self.gram(n: 1500, d: d, seed: 1).decay["exponent"]?.doubleValue)
        let theory = Double(d) / Double(d - 1)
        #expect(abs(alpha - theory) < 0.08, "d = \(d): α = \(alpha), theory \(theory)")
    }
}
