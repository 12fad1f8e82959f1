import Foundation
import Testing
@testable import WideNet

/// The fit utility against curves with a known exponent: the interval covers it, and degenerate
/// fits (too few seeds, no residual freedom) are refused with a reason.
struct SeedBootstrapTests {
    static func curves(_ ns: [Double], alpha: Double, seeds: Int, noise: Double, _ rng: inout TestRNG) -> [[Double]] {
        (0..<seeds).map { _ in ns.map { n in 0.3 + 2 * Foundation.pow(n, -alpha) + noise * (rng.normals(1) as [Double])[0] / n.squareRoot() } }
    }

    /// Over 30 independent sweeps of 8 seeds, each 95 % interval covers the true α = 1 at least 19
    /// times, and they are tight. Percentile intervals from 8 seeds cover less than nominal: over 200
    /// sweeps 91.5 % (power law) and 88 % (differences). At 88 % the test fails with probability
    /// 1e-4, at 85 % with 8e-4 (binomial); 14 of 20, as it was, failed at 88 % once in 150 runs.
    @Test func intervalsCoverAKnownExponent() throws {
        var rng = TestRNG()
        let ns = [64.0, 128, 256, 512, 1024, 2048]
        for (name, statistic) in [("power law", SeedBootstrap.powerLawExponent), ("differences", SeedBootstrap.differenceExponent)] {
            var covered = 0
            for trial in 0..<30 {
                let values = Self.curves(ns, alpha: 1, seeds: 8, noise: 0.002, &rng)
                let f = SeedBootstrap.fit(x: ns, values: values, parameters: 3, seed: rng.seed &+ UInt64(trial), resamples: 200,
                                          statistic: statistic)
                let (v, lo, hi) = (try #require(f.value), try #require(f.low), try #require(f.high))
                #expect(f.identified && lo <= v && v <= hi && hi - lo < 0.6, "seed \(rng.seed), \(name): \(f)")
                if lo <= 1 && 1 <= hi { covered += 1 }
            }
            #expect(covered >= 19, "seed \(rng.seed), \(name): the interval covered α = 1 in \(covered) of 30 sweeps")
        }
    }

    @Test func degenerateFitsAreNotIdentified() {
        var rng = TestRNG()
        let few = Self.curves([64, 256, 1024, 4096, 16384], alpha: 1, seeds: 2, noise: 0.01, &rng)
        let a = SeedBootstrap.fit(x: [64, 256, 1024, 4096, 16384], values: few, parameters: 3, statistic: SeedBootstrap.powerLawExponent)
        #expect(!a.identified && a.value == nil && a.reason?.contains("seeds") == true, "\(a)")
        let three = Self.curves([64, 256, 1024], alpha: 1, seeds: 6, noise: 0.01, &rng)
        let b = SeedBootstrap.fit(x: [64, 256, 1024], values: three, parameters: 3, statistic: SeedBootstrap.powerLawExponent)
        #expect(!b.identified && b.reason?.contains("degrees of freedom") == true, "\(b)")
    }
}
