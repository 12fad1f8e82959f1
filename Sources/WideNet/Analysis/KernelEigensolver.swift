import CBLAS
import Foundation

/// λ0 = λ_min(H) and the few smallest eigenvalues of a kernel matrix too large for a full
/// decomposition, with a certified error (`widenet gram --eigensolver lanczos`).
///
/// The smallest eigenvalues of H∞ sit in a dense cluster at the bottom of a power-law spectrum
/// (relative gaps ~1e-5 of the spread at n = 4000), where Lanczos on H converges slowly. So:
/// - stored (one n×n buffer): Cholesky of H, then block Lanczos on H⁻¹, whose largest eigenvalues 1/λ_i are the
///   smallest of H with relative gaps ~1e-2; then a second Cholesky of H − σI just below the
///   smallest Ritz value certifies that no eigenvalue lies below σ (inertia: H − σI is positive
///   definite);
/// - free (no n×n anywhere): block Lanczos on H itself, each product recomputing the tiles; the
///   residual certifies that an eigenvalue lies within the error of each Ritz value, but without a
///   factorisation it cannot prove that none lies below.
///
/// Bounds, for unit-norm Ritz vectors y and t = Σ‖x_i‖² (ArcCosineTiles):
/// - the Rayleigh quotient ρ = yᵀHy ≥ λ_min, and ‖Hy − ρy‖ = r puts an eigenvalue in [ρ − r, ρ + r];
///   both are computed, so each is off by at most the product's rounding γ_n·t/2;
/// - Cholesky of A = H − σI that succeeds in floating point is exact for A + E with
///   |E| ≤ γ_{n+1}|Rᵀ||R| (Higham, Thm 10.3), and (|Rᵀ||R|)_ij ≤ √((A+E)_ii (A+E)_jj), so
///   ‖E‖₂ ≤ γ_{n+1}/(1 − γ_{n+1})·trace A; hence λ_min(H) ≥ σ − that;
/// - the stored (or recomputed) entries are within ArcCosineTiles.storageBound of the exact kernel in
///   the 2-norm, which moves every eigenvalue by at most that (Weyl).
public enum KernelEigensolver {
    public struct Result: Sendable {
        /// The smallest eigenvalues (Rayleigh quotients of the Ritz vectors), ascending, their vectors
        /// (unit norm) and explicit residuals ‖Hy − ρy‖.
        public var values: [Double], vectors: [[Double]], residuals: [Double]
        /// λ0 lies in [lower, upper] (lower is nil when nothing proves that no eigenvalue lies below).
        public var lower: Double?, upper: Double
        /// The half-width of what is certified about λ0: max(λ0 − lower, upper − λ0) when both ends
        /// are proven; in free mode the distance within which an eigenvalue is proven to lie.
        public var error: Double
        /// "interval" (no eigenvalue below lower, one within error of λ0) or "nearest" (only the latter).
        public var certificate: String
        public var method: String
        public var dimension: Int, blockProducts: Int, vectorProducts: Int, factorisations: Int
        public var converged: Bool
        /// The parts of the error: the residual, the product's rounding, the factorisation's, the storage's.
        public var residualBound: Double, productBound: Double, choleskyBound: Double, storageBound: Double
    }

    public struct Options: Sendable {
        public var count = 6, block = 8, tolerance = 1e-10, maxDimension = 1024, seed: UInt64 = 0
        public init() {}
    }

    /// Stored mode in one n×n buffer: `fill(&buffer)` writes H (row-major, symmetric) into it, and
    /// `apply(V, b)` = H·V without it (ArcCosineTiles.product, the same bits as the stored product).
    /// The buffer holds H, then its Cholesky factor for the Lanczos solves, then H − σI and its
    /// factor for the certificate; the products of the Ritz vectors recompute H's tiles meanwhile.
    public static func stored(n: Int, options o: Options, storageBound: Double, trace: Double,
                              progress: ((String, Int, Double) -> Void)? = nil,
                              fill: (inout [Double]) -> Void, apply: @escaping ([Double], Int) throws -> [Double]) throws -> Result {
        var factor = [Double](repeating: 0, count: n * n)
        fill(&factor)
        let diagonal = (0..<n).map { factor[$0 * n + $0] }
        let traceH = diagonal.reduce(0, +)
        guard try cholesky(&factor, n: n) else {
            throw BackendError("H∞ is not positive definite to rounding (its Cholesky factorisation broke down): some inputs are parallel or repeated")
        }
        progress?("factorised", 0, .nan)
        // B = H⁻¹ on b vectors (b×n row-major is n×b column-major for LAPACK).
        let lanczos = try BlockLanczos.run(n: n, block: max(o.block, o.count), count: o.count, end: .largest, maxDimension: o.maxDimension,
                                           tolerance: o.tolerance, seed: o.seed, progress: { progress?("lanczos", $0, $1) }) { v, b in
            var y = v
            let info = LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), Int32(b), factor, Int32(n), &y, Int32(n))
            guard info == 0 else { throw BackendError("LAPACKE_dpotrs failed (info \(info))") }
            return y
        }
        var result = try refine(lanczos, n: n, trace: trace, storageBound: storageBound, method: "shift-invert block Lanczos on H⁻¹ (Cholesky)",
                                apply: apply)
        // The certificate: H − σI positive definite just below the interval the residual leaves for λ0.
        let rho = result.values[0], spread = result.residualBound + result.productBound
        let choleskyAt = { (s: Double) in 1.01 * ArcCosineTiles.gamma(n + 1) * (traceH - Double(n) * s) + Double.ulpOfOne * (diagonal.max() ?? 0) }
        let sigma = rho - spread - 2 * choleskyAt(rho)
        fill(&factor)
        for i in 0..<n { factor[i * n + i] -= sigma }
        let definite = try cholesky(&factor, n: n)
        factor = []
        result.factorisations = 2
        result.choleskyBound = choleskyAt(sigma)
        progress?("certified", result.dimension, .nan)
        if definite {
            let lower = sigma - result.choleskyBound - storageBound
            result.lower = lower
            result.error = max(rho - lower, result.upper - rho)
            result.certificate = "interval"
        } else {
            result.certificate = "failed"
        }
        return result
    }

    /// Free mode: `apply(V, b)` = H·V for b vectors (b×n), e.g. ArcCosineTiles.product.
    public static func free(n: Int, options o: Options, storageBound: Double, trace: Double, progress: ((String, Int, Double) -> Void)? = nil,
                            apply: @escaping ([Double], Int) throws -> [Double]) throws -> Result {
        // A residual below a tenth of the products' a-priori rounding (which the certified error adds anyway)
        // changes that error by under 10%: stop there rather than at a relative tolerance rounding may never allow.
        let floor = 0.1 * (ArcCosineTiles.gamma(n) * trace / 2 + storageBound)
        let lanczos = try BlockLanczos.run(n: n, block: max(o.block, o.count), count: o.count, end: .smallest, maxDimension: o.maxDimension,
                                           tolerance: o.tolerance, floor: floor, seed: o.seed, progress: { progress?("lanczos", $0, $1) }, apply: apply)
        return try refine(lanczos, n: n, trace: trace, storageBound: storageBound, method: "block Lanczos on H (matrix-free)", apply: apply)
    }

    /// Rayleigh quotients and explicit residuals of the Ritz vectors by one more product, ascending.
    static func refine(_ l: BlockLanczos.Result, n: Int, trace: Double, storageBound: Double, method: String,
                       apply: ([Double], Int) throws -> [Double]) throws -> Result {
        let k = l.vectors.count
        let hy = try apply(l.vectors.flatMap { $0 }, k)
        var pairs: [(rho: Double, r: Double, v: [Double])] = []
        for i in 0..<k {
            let y = l.vectors[i], w = Array(hy[(i * n)..<((i + 1) * n)])
            let rho = zip(y, w).reduce(0) { $0 + $1.0 * $1.1 }
            let r = zip(y, w).reduce(0) { $0 + ($1.1 - rho * $1.0) * ($1.1 - rho * $1.0) }.squareRoot()
            pairs.append((rho, r, y))
        }
        pairs.sort { $0.rho < $1.rho }
        let productBound = ArcCosineTiles.gamma(n) * trace / 2 + 4 * Double.ulpOfOne * abs(pairs.first?.rho ?? 0)
        let r0 = pairs.first?.r ?? .nan, rho0 = pairs.first?.rho ?? .nan
        let upper = rho0 + productBound + storageBound
        return Result(values: pairs.map(\.rho), vectors: pairs.map(\.v), residuals: pairs.map(\.r), lower: nil, upper: upper,
                      error: r0 + productBound + storageBound, certificate: "nearest", method: method, dimension: l.dimension,
                      blockProducts: l.blockProducts + 1, vectorProducts: l.vectorProducts + k, factorisations: 0, converged: l.converged,
                      residualBound: r0, productBound: productBound, choleskyBound: 0, storageBound: storageBound)
    }

    /// In-place Cholesky (lower) of a symmetric matrix by LAPACK's dpotrf on OpenBLAS's threads;
    /// false when it breaks down (the matrix is not positive definite to rounding).
    ///
    /// The `_work` forms here and in the solves: LAPACKE's plain ones first scan the matrix for NaN with
    /// 32-bit offsets, which overflow (a segmentation fault) once n² > 2³¹, n > 46 340; the entries come
    /// from checked inputs, and a NaN would end the factorisation as a breakdown anyway.
    static func cholesky(_ a: inout [Double], n: Int) throws -> Bool {
        let info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), &a, Int32(n))
        if info < 0 { throw BackendError("LAPACKE_dpotrf failed (info \(info))") }
        return info == 0
    }
}
