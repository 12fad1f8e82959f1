import Foundation

/// The Krylov space of a symmetric operator A from a start vector b, by Lanczos with full
/// reorthogonalisation: the Ritz pairs (θ_i, y_i) of A on span{b, Ab, A²b, …} and b's coefficients
/// c_i = ⟨b, y_i⟩ on them. Then f(A)·b ≈ Σ_i f(θ_i) c_i y_i for any function f, exactly when f is a
/// polynomial of degree below the space's dimension, or when the space is invariant (Lanczos stopped
/// early because A maps it into itself, as it does when A has few distinct eigenvalues on b).
public struct KrylovSpace: Sendable {
    public let values: [Double]
    public let vectors: [[Double]]
    public let coefficients: [Double]
    /// True when the space is invariant under A: the expansion is then exact for every f.
    public let invariant: Bool

    public var dimension: Int { values.count }

    /// Σ_i f(θ_i) c_i y_i.
    public func apply(_ f: (Double) -> Double) -> [Double] {
        var out = [Double](repeating: 0, count: vectors.first?.count ?? 0)
        for i in values.indices {
            let w = f(values[i]) * coefficients[i]
            guard w != 0 else { continue }
            let y = vectors[i]
            for q in out.indices { out[q] += w * y[q] }
        }
        return out
    }

    /// Lanczos from `start`, at most `maxDimension` steps; `operator` applies A. From `minDimension`
    /// steps on, every 8th step asks `settled` whether the Ritz pairs it needs have converged, given the
    /// Ritz values, their residuals ‖A y_i − θ_i y_i‖, the start vector's coefficients on them and the
    /// largest |θ| or β seen, and stops if so.
    public static func of(start: [Double], maxDimension: Int, minDimension: Int = .max,
                          settled: (_ values: [Double], _ residuals: [Double], _ coefficients: [Double], _ scale: Double) -> Bool
                              = { _, _, _, _ in false },
                          operator apply: ([Double]) throws -> [Double]) throws -> KrylovSpace {
        let p = start.count
        let norm = start.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0, norm.isFinite, maxDimension >= 1 else { return KrylovSpace(values: [], vectors: [], coefficients: [], invariant: true) }
        var basis: [[Double]] = [start.map { $0 / norm }]
        var alpha: [Double] = [], beta: [Double] = []
        var scale = 0.0, invariant = false
        while true {
            let q = basis[basis.count - 1]
            var w = try apply(q)
            guard w.count == p, w.allSatisfy(\.isFinite) else { throw BackendError("the Krylov operator returned \(w.count) values, or non-finite ones") }
            let a = zip(q, w).reduce(0) { $0 + $1.0 * $1.1 }
            alpha.append(a)
            // Full reorthogonalisation, twice (Kahan's "twice is enough"): the Ritz vectors stay orthonormal
            // to rounding, so components a factor 1e-12 below the start vector's largest are still resolved.
            for _ in 0..<2 {
                for b in basis {
                    let c = zip(b, w).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in 0..<p { w[i] -= c * b[i] }
                }
            }
            let bNorm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            scale = max(scale, abs(a), bNorm)
            if bNorm <= 1e-13 * scale || basis.count == p { invariant = true; break }
            if basis.count >= maxDimension { break }
            if basis.count >= minDimension, basis.count % 8 == 0 {
                let (values, s) = try ritzPairs(alpha, beta)
                if settled(values, s.map { bNorm * abs($0[alpha.count - 1]) }, s.map { norm * $0[0] }, scale) { break }
            }
            beta.append(bNorm)
            basis.append(w.map { $0 / bNorm })
        }
        let (values, s) = try ritzPairs(alpha, beta)
        var vectors: [[Double]] = [], coefficients: [Double] = []
        for i in values.indices {
            var y = [Double](repeating: 0, count: p)
            for (l, b) in basis.prefix(alpha.count).enumerated() {
                let c = s[i][l]
                for q in 0..<p { y[q] += c * b[q] }
            }
            vectors.append(y)
            coefficients.append(norm * s[i][0])
        }
        return KrylovSpace(values: values, vectors: vectors, coefficients: coefficients, invariant: invariant)
    }

    /// The eigenpairs of the tridiagonal matrix with diagonal `alpha` and off-diagonal `beta`.
    private static func ritzPairs(_ alpha: [Double], _ beta: [Double]) throws -> (values: [Double], vectors: [[Double]]) {
        let j = alpha.count
        var t = [Double](repeating: 0, count: j * j)
        for i in 0..<j {
            t[i * j + i] = alpha[i]
            if i + 1 < j { t[i * j + i + 1] = beta[i]; t[(i + 1) * j + i] = beta[i] }
        }
        return try SymmetricEigen.eigenpairs(t, n: j)
    }
}
