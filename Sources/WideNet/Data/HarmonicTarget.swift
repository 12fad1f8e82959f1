import Foundation

/// A target on the unit sphere S^{d−1} built from the eigenfunctions of H∞'s integral operator,
/// so that its smoothness against the kernel (the source exponent r) is known
/// (ARCHITECTURE.md §1.1, averaged SGD).
///
/// H∞(x, x') = k(xᵀx'), k(t) = t(π − arccos t)/2π, is a dot-product kernel: under the uniform law
/// on the sphere its eigenfunctions are the spherical harmonics, degree ℓ with eigenvalue
/// μ_ℓ = E[k(t) P_ℓ(t)] (Funk–Hecke; t = ζᵀx for x uniform, P_ℓ the degree-ℓ Legendre polynomial
/// of dimension d with P_ℓ(1) = 1) and multiplicity N(d, ℓ). μ_ℓ decays like ℓ^(−d), so the
/// eigenvalues in rank order decay like i^(−β), β = d/(d − 1); the odd degrees from 3 on have
/// μ_ℓ = 0 (k is t/4 plus even powers).
///
/// The target f*(x) = Σ_ℓ μ_ℓ^r ℓ^(−1/2) Q_ℓ(ζᵀx) over the degrees 1 ≤ ℓ ≤ L with μ_ℓ > 0, with
/// Q_ℓ = √N(d, ℓ) P_ℓ the unit-norm zonal harmonic about a random direction ζ: f* = T^r g with
/// ‖g‖² = Σ 1/ℓ, the edge of the source condition, so the bias of averaged SGD after t samples
/// at step η falls like (ηt)^(−2r).
public struct HarmonicTarget: Sendable {
    public let d: Int
    public let source: Double
    /// The degrees used, their eigenvalues μ_ℓ and coefficients c_ℓ = μ_ℓ^r ℓ^(−1/2) √N(d, ℓ)
    /// (of P_ℓ, so that f*(x) = Σ c_ℓ P_ℓ(ζᵀx)).
    public let degrees: [Int], eigenvalues: [Double], coefficients: [Double]
    /// ζ, a unit vector.
    public let direction: [Double]

    /// Largest degree by default: past it μ_ℓ^(2r)/ℓ is below what runs of ~10^6 samples resolve.
    public static let defaultMaxDegree = 40

    public init(d: Int, source r: Double, maxDegree: Int = defaultMaxDegree, seed: UInt64) throws {
        guard d >= 2 else { throw BackendError("a harmonic target needs --d ≥ 2 (got \(d))") }
        guard r.isFinite, r > 0 else { throw BackendError("--source must be a positive number (got \(r))") }
        guard maxDegree >= 1, maxDegree <= 1000 else { throw BackendError("--degrees must be in 1…1000 (got \(maxDegree))") }
        self.d = d; source = r
        let mu = HarmonicTarget.eigenvalues(d: d, maxDegree: maxDegree)
        // μ_ℓ of the odd degrees ≥ 3 vanish; quadrature leaves them at rounding level.
        let kept = (1...maxDegree).filter { mu[$0] > 1e-12 * mu[1] }
        degrees = kept
        eigenvalues = kept.map { mu[$0] }
        coefficients = kept.map { Foundation.pow(mu[$0], r) / Double($0).squareRoot() * HarmonicTarget.multiplicity(d: d, degree: $0).squareRoot() }
        let raw: [Double] = PhiloxGenerator(seed: seed).array(count: d, stream: RandomStream.teacher.rawValue, step: 0,
                                                               distribution: .normal, scale: 1.0)
        direction = SyntheticData.unitRows(raw, n: 1, d: d)
    }

    /// β of the rank-ordered decay λ_i ~ i^(−β).
    public var capacity: Double { Double(d) / Double(d - 1) }

    /// f*(x) for each row of x (n×d, unit rows).
    public func values(_ x: [Double], n: Int) -> [Double] {
        let top = degrees.last ?? 0
        return (0..<n).map { i in
            var t = 0.0
            for k in 0..<d { t += direction[k] * x[i * d + k] }
            let p = HarmonicTarget.legendre(upTo: top, d: d, at: min(1, max(-1, t)))
            return zip(degrees, coefficients).reduce(0.0) { $0 + $1.1 * p[$1.0] }
        }
    }

    /// ‖f*‖² = Σ_ℓ μ_ℓ^(2r)/ℓ under the uniform law (the Q_ℓ are orthonormal).
    public var normSquared: Double { zip(degrees, eigenvalues).reduce(0.0) { $0 + Foundation.pow($1.1, 2 * source) / Double($1.0) } }

    /// P_0 … P_L at t: the Legendre polynomials of dimension d, P_ℓ(1) = 1, by their three-term recurrence
    /// P_{ℓ+1} = ((2ℓ + d − 2) t P_ℓ − ℓ P_{ℓ−1}) / (ℓ + d − 2).
    public static func legendre(upTo top: Int, d: Int, at t: Double) -> [Double] {
        var p = [Double](repeating: 0, count: top + 1)
        p[0] = 1
        if top >= 1 { p[1] = t }
        if top >= 2 {
            for l in 1..<top {
                let a = Double(2 * l + d - 2), b = Double(l), c = Double(l + d - 2)
                p[l + 1] = (a * t * p[l] - b * p[l - 1]) / c
            }
        }
        return p
    }

    /// N(d, ℓ), the dimension of the degree-ℓ harmonics on S^{d−1}: (2ℓ + d − 2)/ℓ · C(ℓ + d − 3, ℓ − 1).
    public static func multiplicity(d: Int, degree l: Int) -> Double {
        guard l > 0 else { return 1 }
        if d == 2 { return 2 }
        // C(ℓ + d − 3, ℓ − 1) through log-gamma: exact enough, and no overflow at large ℓ.
        let logC = Foundation.lgamma(Double(l + d - 2)) - Foundation.lgamma(Double(l)) - Foundation.lgamma(Double(d - 1))
        return Double(2 * l + d - 2) / Double(l) * Foundation.exp(logC)
    }

    /// μ_0 … μ_L = c_d ∫_0^π k(cos θ) P_ℓ(cos θ) sin^{d−2}θ dθ with c_d = Γ(d/2)/(√π Γ((d−1)/2)):
    /// in θ the integrand is smooth (k(cos θ) = cos θ (π − θ)/2π), so Gauss–Legendre on [0, π]
    /// converges fast; 4L + 200 nodes integrate it to rounding.
    public static func eigenvalues(d: Int, maxDegree top: Int) -> [Double] {
        let (nodes, weights) = gaussLegendre(count: 4 * top + 200)
        let cd = Foundation.exp(Foundation.lgamma(Double(d) / 2) - Foundation.lgamma(Double(d - 1) / 2)) / Double.pi.squareRoot()
        var mu = [Double](repeating: 0, count: top + 1)
        for (u, w) in zip(nodes, weights) {
            let theta = Double.pi / 2 * (u + 1), c = Foundation.cos(theta)
            let k = c * (Double.pi - theta) / (2 * Double.pi)
            let jac = Foundation.pow(Foundation.sin(theta), Double(d - 2)) * w * Double.pi / 2
            let p = legendre(upTo: top, d: d, at: c)
            for l in 0...top { mu[l] += cd * k * p[l] * jac }
        }
        return mu
    }

    /// Nodes and weights of Gauss–Legendre quadrature on [−1, 1] (Newton on the Legendre recurrence).
    static func gaussLegendre(count q: Int) -> (nodes: [Double], weights: [Double]) {
        var x = [Double](repeating: 0, count: q), w = x
        for i in 0..<((q + 1) / 2) {
            var z = Foundation.cos(Double.pi * (Double(i) + 0.75) / (Double(q) + 0.5)), dp = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = 0.0
                for j in 1...q { let p2 = p1; p1 = p0; p0 = ((2 * Double(j) - 1) * z * p1 - (Double(j) - 1) * p2) / Double(j) }
                dp = Double(q) * (z * p0 - p1) / (z * z - 1)
                let step = p0 / dp
                z -= step
                if abs(step) < 1e-16 { break }
            }
            x[i] = -z; x[q - 1 - i] = z
            w[i] = 2 / ((1 - z * z) * dp * dp); w[q - 1 - i] = w[i]
        }
        return (x, w)
    }
}

extension HarmonicTarget {
    /// y = f*(x) + σξ, ξ standard normals of the label stream at `step` (0: a data set; k + 1: SGD's k-th batch).
    public func labels(_ x: [Double], n: Int, noise sigma: Double, seed: UInt64, step: UInt32) -> [Double] {
        let clean = values(x, n: n)
        guard sigma > 0 else { return clean }
        let xi: [Double] = PhiloxGenerator(seed: seed).array(count: n, stream: RandomStream.labels.rawValue, step: step,
                                                             distribution: .normal, scale: 1.0)
        return zip(clean, xi).map { $0 + sigma * $1 }
    }
}
