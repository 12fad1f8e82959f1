import Foundation
import Testing
@testable import WideNet

/// The fit utility against curves with a known exponent: the interval covers it, and degenerate
/// fits (too few seeds, no residual freedom) are refused with a reason.
struct SeedBootstrapTests {
    static func curves(_ ns: [Double], alpha: Double, seeds: Int, noise: Double, _ rng: inout TestRNG) -> [[Double]] {
        (0..<seeds).map { _ in ns.map { n in 0.3 + 2 * Foundation.pow(n, -alpha) + noise * (rng.normals(1) as [Double])[0] / n.squareRoot() } }
    }

    @Test func intervalsCoverAKnownExponent() throws {
        var rng = TestRNG()
        let ns = [64.0, 128, 256, 512, 1024, 2048]
        let values = Self.curves(ns, alpha: 1, seeds: 8, noise: 0.002, &rng)
        for statistic in [SeedBootstrap.powerLawExponent, SeedBootstrap.differenceExponent] {
            let f = SeedBootstrap.fit(x: ns, values: values, parameters: 3, seed: rng.seed, statistic: statistic)
            let (v, lo, hi) = (try #require(f.value), try #require(f.low), try #require(f.high))
            #expect(f.identified && lo <= v && v <= hi, "seed \(rng.seed): \(f)")
            #expect(lo <= 1.0 && 1.0 <= hi && hi - lo < 0.6, "seed \(rng.seed): interval [\(lo), \(hi)] for α = 1")
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
