import Foundation
import Testing
@testable import WideNet

/// SplitMix64 with Box–Muller normals: fixed seeds, so the statistical tolerances below were checked once
/// against many seeds and the tests themselves are deterministic.
private struct AnalysisRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }  // [0, 1)
    mutating func normal() -> Double {
        let u1 = 1 - uniform(), u2 = uniform()  // u1 ∈ (0, 1]
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
    mutating func normals(_ count: Int, sigma: Double = 1) -> [Double] { (0..<count).map { _ in sigma * normal() } }
}

private let eulerGamma = 0.5772156649015329

/// Kozachenko–Leonenko by brute force: every row's distances computed directly and sorted, for k in `ks`.
private func bruteForceKL(_ x: [Double], m: Int, D: Int, ks: [Int]) -> [Double] {
    var sorted = [[Double]](), floor = Double.infinity
    for i in 0..<m {
        var d = [Double]()
        d.reserveCapacity(m - 1)
        for j in 0..<m where j != i {
            var s = 0.0
            for c in 0..<D { s += (x[i * D + c] - x[j * D + c]) * (x[i * D + c] - x[j * D + c]) }
            d.append(s.squareRoot())
        }
        d.sort()
        if let p = d.first(where: { $0 > 0 }) { floor = min(floor, p) }
        sorted.append(d)
    }
    return ks.map { k in
        let sumLog = sorted.reduce(0) { $0 + log(max($1[k - 1], floor)) }
        return EntropyEstimator.digamma(Double(m)) - EntropyEstimator.digamma(Double(k))
            + EntropyEstimator.logUnitBallVolume(dimension: D) + Double(D) / Double(m) * sumLog
    }
}

@Suite struct EntropyEstimatorTests {
    @Test func digammaKnownValues() {
        let psi = EntropyEstimator.digamma
        #expect(abs(psi(1) + eulerGamma) < 1e-12)
        #expect(abs(psi(0.5) - (-eulerGamma - 2 * log(2.0))) < 1e-12)
        #expect(abs(psi(10) - 2.251752589066721) < 1e-12)
        #expect(abs(psi(2) - (1 - eulerGamma)) < 1e-12)
        #expect(abs(psi(0.25) - (-eulerGamma - Double.pi / 2 - 3 * log(2.0))) < 1e-12)
        #expect(abs(psi(100) - 4.600161852738087) < 1e-12)
        #expect(abs(psi(-0.5) - 0.03648997397857652) < 1e-12)  // reflection
        for x in [0.01, 0.7, 3.3, 5.9, 6.0, 6.1, 42.5] {  // ψ(x + 1) = ψ(x) + 1/x across the x = 6 switch
            #expect(abs(psi(x + 1) - psi(x) - 1 / x) < 1e-12 * max(1, 1 / x), "x = \(x)")
        }
        #expect(psi(0).isNaN && psi(-3).isNaN && psi(.nan).isNaN)
    }

    @Test func unitBallVolume() {
        let logV = EntropyEstimator.logUnitBallVolume
        #expect(abs(logV(1) - log(2.0)) < 1e-14)
        #expect(abs(logV(2) - log(Double.pi)) < 1e-14)
        #expect(abs(logV(3) - log(4 * Double.pi / 3)) < 1e-14)
        #expect(abs(logV(20) - (10 * log(Double.pi) - log(3628800.0))) < 1e-12)  // π^10 / 10!
        #expect(logV(2000).isFinite)  // Γ(1001) overflows a Double, its log does not
    }

    @Test func matchesBruteForce() throws {
        var rng = AnalysisRNG(state: 11)
        let m = 300, D = 3
        var x = rng.normals(m * D)
        for c in 0..<D { x[7 * D + c] = x[3 * D + c] }  // one duplicate pair
        let ks = [1, 2, 5]
        for (k, reference) in zip(ks, bruteForceKL(x, m: m, D: D, ks: ks)) {
            // Blocks of 7 rows: several Gram blocks, the last one partial.
            let h = try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D, k: k, threads: 3, blockRows: 7)
            #expect(abs(h - reference) < 1e-12, "k = \(k): \(h) vs \(reference)")
            #expect(abs(try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D, k: k) - reference) < 1e-12)
        }
    }

    /// Exact ½ D log(2πe σ²). Bias measured over 100 seeds at M = 4000, k = 5 (mean ± sd of H − exact):
    /// D = 1: −0.002 ± 0.016, D = 3: −0.028 ± 0.024, D = 10: +0.048 ± 0.036 (D = 12: +0.17 ± 0.04),
    /// so the tolerance 0.07 + 0.02·D is about four standard deviations beyond the bias.
    @Test(arguments: [1, 3, 10]) func gaussian(D: Int) throws {
        var rng = AnalysisRNG(state: 100 + UInt64(D))
        let m = 4000, sigma = 1.7
        let h = try EntropyEstimator.kozachenkoLeonenko(rng.normals(m * D, sigma: sigma), count: m, dimension: D)
        let exact = 0.5 * Double(D) * log(2 * Double.pi * M_E * sigma * sigma)
        #expect(abs(h - exact) < 0.07 + 0.02 * Double(D), "D = \(D): \(h) vs \(exact)")
    }

    /// Exact D log L. Points near the faces have neighbours on one side only, so the estimate reads high;
    /// measured at M = 2000 (100 seeds): D = 1: +0.001 ± 0.013, D = 2: +0.031 ± 0.015, D = 3: +0.123 ± 0.015
    /// (at M = 4000, D = 10: +1.6). Tolerance 0.06·D + 0.01.
    @Test(arguments: [1, 2, 3]) func uniformCube(D: Int) throws {
        var rng = AnalysisRNG(state: 200 + UInt64(D))
        let m = 2000, L = 2.5
        let x = (0..<(m * D)).map { _ in L * rng.uniform() }
        let h = try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D)
        #expect(abs(h - Double(D) * log(L)) < 0.06 * Double(D) + 0.01, "D = \(D): \(h) vs \(Double(D) * log(L))")
    }

    /// H(c·X) = H(X) + D log c and H(X + b) = H(X) hold for the estimator itself, to rounding.
    @Test func scalingAndTranslation() throws {
        var rng = AnalysisRNG(state: 5)
        let m = 500, D = 4
        let x = rng.normals(m * D)
        let h = try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D)
        for c in [3.7, 0.01, 1e4] {
            let hc = try EntropyEstimator.kozachenkoLeonenko(x.map { c * $0 }, count: m, dimension: D)
            #expect(abs(hc - h - Double(D) * log(c)) < 1e-10, "c = \(c)")
        }
        let shifted = x.enumerated().map { $0.element + 1000 * Double($0.offset % D + 1) }
        #expect(abs(try EntropyEstimator.kozachenkoLeonenko(shifted, count: m, dimension: D) - h) < 1e-9)
    }

    @Test func rowOrderAndThreadCount() throws {
        var rng = AnalysisRNG(state: 9)
        let m = 600, D = 5
        var x = rng.normals(m * D)
        for c in 0..<D { x[10 * D + c] = x[20 * D + c]; x[30 * D + c] = x[20 * D + c] }  // a triple
        let h = try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D, k: 3, threads: 1)
        for threads in [2, 3, 8, 64] {
            #expect(try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D, k: 3, threads: threads) == h)
        }
        var order = Array(0..<m)
        for i in stride(from: m - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let permuted = order.flatMap { x[($0 * D)..<($0 * D + D)] }
        #expect(abs(try EntropyEstimator.kozachenkoLeonenko(permuted, count: m, dimension: D, k: 3) - h) < 1e-12)
    }

    /// Every point twice: with k = 1 every ε_i is 0, so all take the floor, the smallest positive distance.
    @Test func duplicatesUseTheSmallestPositiveDistance() throws {
        var rng = AnalysisRNG(state: 3)
        let half = 200, D = 2, m = 2 * half
        let base = rng.normals(half * D)
        let x = base + base
        var floor = Double.infinity
        for i in 0..<half { for j in 0..<i {
            floor = min(floor, hypot(base[i * D] - base[j * D], base[i * D + 1] - base[j * D + 1]))
        } }
        let expected = EntropyEstimator.digamma(Double(m)) - EntropyEstimator.digamma(1)
            + EntropyEstimator.logUnitBallVolume(dimension: D) + Double(D) * log(floor)
        let h = try EntropyEstimator.kozachenkoLeonenko(x, count: m, dimension: D, k: 1)
        #expect(abs(h - expected) < 1e-12)
        #expect(abs(h - bruteForceKL(x, m: m, D: D, ks: [1])[0]) < 1e-12)
        #expect(throws: BackendError.self) {  // a point mass: −∞
            try EntropyEstimator.kozachenkoLeonenko([Double](repeating: 1.5, count: 20), count: 10, dimension: 2)
        }
    }

    @Test func badInput() {
        let x = [Double](repeating: 0, count: 30).enumerated().map { Double($0.offset) }
        #expect(throws: BackendError.self) { try EntropyEstimator.kozachenkoLeonenko(x, count: 5, dimension: 6, k: 5) }  // m ≤ k
        #expect(throws: BackendError.self) { try EntropyEstimator.kozachenkoLeonenko(x, count: 10, dimension: 3, k: 0) }
        #expect(throws: BackendError.self) { try EntropyEstimator.kozachenkoLeonenko([], count: 10, dimension: 0) }
        #expect(throws: BackendError.self) { try EntropyEstimator.kozachenkoLeonenko(x, count: 10, dimension: 4) }  // 30 ≠ 40
        #expect(throws: BackendError.self) { try EntropyEstimator.kozachenkoLeonenko(x, count: -10, dimension: -3) }
        for bad in [Double.nan, .infinity] {
            var y = x
            y[17] = bad
            #expect(throws: BackendError.self) { try EntropyEstimator.kozachenkoLeonenko(y, count: 10, dimension: 3, k: 2) }
        }
    }
}

@Suite struct PowerLawFitTests {
    static let n = (0...6).map { 100 * pow(10, Double($0) / 2) }  // 100 … 100000

    @Test(arguments: [(0.3, 2.0, 1.0), (0.3, 2.0, 0.5), (0.3, -2.0, 1.0), (-1.0, 5.0, 2.5), (0.3, 2.0, 0.07)])
    func noiselessRecovery(limit: Double, coefficient: Double, exponent: Double) throws {
        let f = Self.n.map { limit + coefficient * pow($0, -exponent) }
        let fit = try #require(PowerLawFit(n: Self.n, f: f))
        #expect(abs(fit.limit - limit) < 1e-10)
        #expect(abs(fit.coefficient - coefficient) < 1e-8 * abs(coefficient))
        #expect(abs(fit.exponent - exponent) < 1e-9)
        #expect(fit.residual < 1e-25 && fit.r2 > 1 - 1e-12)
        // The log-log slope of the excess sees −α too, once the excess is well above rounding of F∞.
        #expect(abs((fit.logLogSlope ?? 0) + exponent) < 1e-5)
        #expect(abs(fit.predict(5000) - (limit + coefficient * pow(5000, -exponent))) < 1e-12)
    }

    /// Absolute noise 1e-4 on F (the excess is 2e-2 … 2e-5): over 500 seeds the 99th percentiles of the errors
    /// are 0.04 in α, 1.5e-4 in F∞ and 0.37 in c; the tolerances sit above the largest seen.
    @Test func noisyRecovery() throws {
        for seed: UInt64 in 1...5 {
            var rng = AnalysisRNG(state: seed)
            let f = Self.n.map { 0.3 + 2 / $0 + 1e-4 * rng.normal() }
            let fit = try #require(PowerLawFit(n: Self.n, f: f))
            #expect(abs(fit.exponent - 1) < 0.06, "seed \(seed)")
            #expect(abs(fit.limit - 0.3) < 3e-4, "seed \(seed)")
            #expect(abs(fit.coefficient - 2) < 0.6, "seed \(seed)")
            #expect(fit.r2 > 0.999, "seed \(seed)")
        }
    }

    @Test func rejectsTooFewPointsAndBadInput() {
        #expect(PowerLawFit(n: [100, 100, 1000, 1000], f: [1, 1.1, 0.5, 0.6]) == nil)  // two distinct N
        #expect(PowerLawFit(n: [100, 1000], f: [1, 0.5]) == nil)
        #expect(PowerLawFit(n: [100, 1000, 10000], f: [1, 0.5]) == nil)
        #expect(PowerLawFit(n: [100, 1000, 10000], f: [1, .nan, 0.4]) == nil)
        #expect(PowerLawFit(n: [100, .infinity, 10000], f: [1, 0.5, 0.4]) == nil)
        #expect(PowerLawFit(n: [0, 1000, 10000], f: [1, 0.5, 0.4]) == nil)
        #expect(PowerLawFit(n: [100, 1000, 10000], f: [1, 0.5, 0.4], sigma: [0.1, 0, 0.1]) == nil)
        #expect(PowerLawFit(n: [100, 1000, 10000], f: [1, 0.5, 0.4], sigma: [0.1, 0.1]) == nil)
        #expect(PowerLawFit(n: [100, 1000, 10000], f: [1, 0.5, 0.4]) != nil)  // three points: an exact fit
    }

    @Test func weights() throws {
        let n = Self.n
        let exact = n.map { 0.3 + 2 / $0 }
        // Equal σ: the same fit, the residual divided by σ².
        var rng = AnalysisRNG(state: 21)
        let noisy = exact.map { $0 + 1e-4 * rng.normal() }
        let plain = try #require(PowerLawFit(n: n, f: noisy))
        let equal = try #require(PowerLawFit(n: n, f: noisy, sigma: [Double](repeating: 1e-3, count: n.count)))
        #expect(abs(equal.exponent - plain.exponent) < 1e-9 && abs(equal.limit - plain.limit) < 1e-12)
        #expect(abs(equal.residual * 1e-6 - plain.residual) < 1e-9 * plain.residual)
        #expect(abs(equal.r2 - plain.r2) < 1e-12)

        // One bad point (N = 1000, off by 0.02) declared with a large σ: the weighted fit all but ignores it,
        // the unweighted one is pulled off.
        var f = exact
        f[2] += 0.02
        var sigma = [Double](repeating: 1e-3, count: n.count)
        sigma[2] = 1
        let unweighted = try #require(PowerLawFit(n: n, f: f))
        let weighted = try #require(PowerLawFit(n: n, f: f, sigma: sigma))
        #expect(abs(weighted.exponent - 1) < 1e-3 && abs(weighted.limit - 0.3) < 1e-6)
        #expect(abs(unweighted.exponent - 1) > 10 * abs(weighted.exponent - 1))
        #expect(abs(unweighted.limit - 0.3) > 10 * abs(weighted.limit - 0.3))
    }
}
