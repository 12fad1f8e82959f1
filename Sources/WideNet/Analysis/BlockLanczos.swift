import CBLAS
import Foundation

/// A few eigenpairs at one end of the spectrum of a symmetric n×n operator A that is only applied, by
/// block Lanczos with full reorthogonalisation: the Ritz pairs of A on the block Krylov space
/// span{V, AV, A²V, …} of a random start block V of b vectors. The block makes each application of
/// A serve b vectors (a matrix-free H∞·V recomputes each tile of H∞ once for all of them) and resolves
/// clusters of nearly equal eigenvalues that a single vector converges to slowly.
///
/// KrylovSpace (Analysis/KrylovSpace.swift) is the single-vector form the saddle jump uses, which keeps
/// every Ritz pair for f(A)·b; this one keeps only the `count` wanted pairs and works on blocks with
/// GEMMs. Both reorthogonalise twice ("twice is enough"), so the basis stays orthonormal to rounding.
///
/// The residual of a Ritz pair (θ, y = Qs) is ‖Ay − θy‖ = ‖Lᵀs_last‖, with L the coefficients of the
/// next block and s_last the Ritz vector's part on the last block (exact up to rounding); the caller
/// recomputes it explicitly for anything it certifies.
public enum BlockLanczos {
    public enum End: Sendable { case smallest, largest }

    public struct Result: Sendable {
        /// Ritz values at the chosen end, the most extreme first, with their Ritz vectors (unit norm)
        /// and residual estimates ‖Ay − θy‖.
        public let values: [Double], vectors: [[Double]], residuals: [Double]
        /// The dimension of the Krylov space, the block applications of A and the vectors applied.
        public let dimension: Int, blockProducts: Int, vectorProducts: Int
        /// Whether every wanted pair met the tolerance (else the dimension limit, or an invariant space, ended it).
        public let converged: Bool
    }

    /// `apply(V, b)` returns A·V for b vectors (b×n, one vector a row). Stops when each of the `count`
    /// pairs has a residual at most max(`tolerance`·|θ|, `floor`), or the space would exceed `maxDimension`.
    /// The absolute `floor` is for a caller whose products carry a known rounding error: a residual far
    /// below it buys nothing the certificate can use.
    /// `progress(dimension, worst relative residual)` is called after each block.
    public static func run(n: Int, block: Int, count: Int, end: End, maxDimension: Int, tolerance: Double, floor: Double = 0, seed: UInt64,
                           progress: ((Int, Double) -> Void)? = nil,
                           apply: ([Double], Int) throws -> [Double]) throws -> Result {
        precondition(n >= 1 && block >= 1 && count >= 1)
        let k = min(count, n), cap = max(min(maxDimension, n), min(block, n))
        var q = [Double](), m = 0
        var t = [Double](repeating: 0, count: cap * cap)
        var scale = 0.0
        let start: [Double] = PhiloxGenerator(seed: seed).array(count: min(block, n) * n, stream: RandomStream.krylovStart.rawValue,
                                                                 step: 0, distribution: .normal, scale: 1.0)
        let first = orthonormalise(start, rows: min(block, n), n: n, dropBelow: 0)
        var blockStart = 0, blockProducts = 0, vectorProducts = 0
        q += first.vectors; m = first.count
        var ritz: (values: [Double], s: [[Double]], residuals: [Double]) = ([], [], [])
        var converged = false
        while true {
            let bj = m - blockStart
            let current = Array(q[(blockStart * n)..<(m * n)])
            let w = try apply(current, bj)
            guard w.count == bj * n, w.allSatisfy(\.isFinite) else { throw BackendError("the Lanczos operator returned \(w.count) values, or non-finite ones") }
            blockProducts += 1; vectorProducts += bj
            let (fresh, c, l) = project(w, rows: bj, basis: q, count: m, n: n)
            for col in 0..<bj {
                let g = blockStart + col
                for i in 0..<m {
                    let v = c[i * bj + col]
                    scale = max(scale, abs(v))
                    if i < blockStart { t[i * cap + g] = v; t[g * cap + i] = v } else { t[i * cap + g] = v }
                }
            }
            // The diagonal block: symmetric in exact arithmetic, averaged against rounding.
            for a in blockStart..<m { for b in blockStart..<a {
                let v = (t[a * cap + b] + t[b * cap + a]) / 2; t[a * cap + b] = v; t[b * cap + a] = v
            } }
            let newCount = fresh.count / max(n, 1)
            for p in 0..<newCount { for col in 0..<bj { scale = max(scale, abs(l[col * newCount + p])) } }
            // The Ritz pairs of the projection, and their residuals through the next block's coefficients.
            let want = min(k, m)
            let (values, s) = try extremePairs(t, dimension: m, stride: cap, count: want, end: end)
            var residuals: [Double] = []
            for si in s {
                var r2 = 0.0
                for p in 0..<newCount {
                    var acc = 0.0
                    for col in 0..<bj { acc += l[col * newCount + p] * si[blockStart + col] }
                    r2 += acc * acc
                }
                residuals.append(r2.squareRoot())
            }
            ritz = (values, s, residuals)
            let worst = zip(values, residuals).map { $1 / max(abs($0), .leastNormalMagnitude) }.max() ?? 0
            progress?(m, worst)
            let settled = zip(values, residuals).allSatisfy { $1 <= max(tolerance * abs($0), floor) }
            if want == k && settled { converged = true; break }
            if newCount == 0 || m + newCount > cap { converged = newCount == 0 && want == k; break }
            q += fresh; blockStart = m; m += newCount
            t.withUnsafeMutableBufferPointer { tp in
                for col in 0..<bj { for p in 0..<newCount {
                    let v = l[col * newCount + p], g = blockStart - bj + col, h = blockStart + p
                    tp[h * cap + g] = v; tp[g * cap + h] = v
                } }
            }
        }
        // Ritz vectors y = Σ_l s_l q_l.
        let want = ritz.values.count
        var sFlat = [Double](repeating: 0, count: want * m)
        for (i, si) in ritz.s.enumerated() { for l in 0..<m { sFlat[i * m + l] = si[l] } }
        var y = [Double](repeating: 0, count: want * n)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(want), Int32(n), Int32(m), 1, sFlat, Int32(m), q, Int32(n), 0, &y, Int32(n))
        var vectors: [[Double]] = []
        for i in 0..<want {
            var v = Array(y[(i * n)..<((i + 1) * n)])
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { for j in v.indices { v[j] /= norm } }
            vectors.append(v)
        }
        return Result(values: ritz.values, vectors: vectors, residuals: ritz.residuals, dimension: m,
                      blockProducts: blockProducts, vectorProducts: vectorProducts, converged: converged)
    }

    /// W (rows×n) orthogonalised against the basis (count×n) twice: the remainder's orthonormal rows,
    /// the coefficients C (count×rows, C[i, q] = ⟨basis_i, w_q⟩) and L (rows × new) with
    /// remainder_q = Σ_p L[q, p] new_p.
    static func project(_ w: [Double], rows: Int, basis q: [Double], count m: Int, n: Int) -> (fresh: [Double], c: [Double], l: [Double]) {
        var w = w
        var c = [Double](repeating: 0, count: m * rows), p = [Double](repeating: 0, count: m * rows)
        for _ in 0..<2 {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(rows), Int32(n), 1, q, Int32(n), w, Int32(n), 0, &p, Int32(rows))
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(n), Int32(m), -1, p, Int32(rows), q, Int32(n), 1, &w, Int32(n))
            for i in c.indices { c[i] += p[i] }
        }
        let norms = (0..<rows).map { r in (0..<n).reduce(0.0) { $0 + w[r * n + $1] * w[r * n + $1] }.squareRoot() }
        let scale = max(norms.max() ?? 0, (c.map(abs).max() ?? 0))
        let rest = orthonormalise(w, rows: rows, n: n, dropBelow: 1e-12 * scale)
        return (rest.vectors, c, rest.l)
    }

    /// Modified Gram–Schmidt, twice, on the rows of `w`: orthonormal rows, dropping those whose
    /// remainder is at most `dropBelow` (a block that has become rank-deficient), and L with
    /// w_q = Σ_p L[q, p] new_p over the kept rows.
    static func orthonormalise(_ w: [Double], rows: Int, n: Int, dropBelow: Double) -> (vectors: [Double], count: Int, l: [Double]) {
        var kept: [[Double]] = []
        var coeff = [[Double]](repeating: [], count: rows)
        for r in 0..<rows {
            var v = Array(w[(r * n)..<((r + 1) * n)])
            var cs = [Double](repeating: 0, count: kept.count)
            for _ in 0..<2 {
                for (p, u) in kept.enumerated() {
                    var dot = 0.0
                    for j in 0..<n { dot += u[j] * v[j] }
                    for j in 0..<n { v[j] -= dot * u[j] }
                    cs[p] += dot
                }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > dropBelow && norm > 0 {
                for j in 0..<n { v[j] /= norm }
                kept.append(v); cs.append(norm)
            }
            coeff[r] = cs
        }
        let newCount = kept.count
        var l = [Double](repeating: 0, count: rows * newCount)
        for r in 0..<rows { for (p, v) in coeff[r].enumerated() { l[r * newCount + p] = v } }
        return (kept.flatMap { $0 }, newCount, l)
    }

    /// The `count` eigenpairs at `end` of the leading dimension×dimension block of t (row stride
    /// `stride`), the most extreme first, by LAPACK's dsyevr (only those pairs are computed).
    static func extremePairs(_ t: [Double], dimension m: Int, stride: Int, count: Int, end: End) throws -> ([Double], [[Double]]) {
        var a = [Double](repeating: 0, count: m * m)
        for i in 0..<m { for j in 0..<m { a[i * m + j] = t[i * stride + j] } }
        let k = min(count, m)
        guard k > 0 else { return ([], []) }
        let (il, iu) = end == .smallest ? (1, k) : (m - k + 1, m)
        var found: Int32 = 0
        var w = [Double](repeating: 0, count: m), z = [Double](repeating: 0, count: m * k)
        var support = [Int32](repeating: 0, count: 2 * k)
        let info = BLAS.singleThreaded {
            LAPACKE_dsyevr(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "I")), CChar(UInt8(ascii: "L")), Int32(m), &a, Int32(m),
                           0, 0, Int32(il), Int32(iu), 0, &found, &w, &z, Int32(m), &support)
        }
        guard info == 0, Int(found) == k else { throw BackendError("LAPACKE_dsyevr failed (info \(info), \(found) of \(k) eigenpairs)") }
        var values = Array(w.prefix(k)), vectors = (0..<k).map { c in Array(z[(c * m)..<((c + 1) * m)]) }
        if end == .largest { values.reverse(); vectors.reverse() }
        return (values, vectors)
    }
}
