import CBLAS

/// Singular values of small dense matrices through LAPACKE (dgesdd), and orthonormal bases.
public enum SingularValues {
    /// Descending singular values of the rows×cols row-major matrix `a`, as square roots of the
    /// eigenvalues of the smaller Gram matrix (AᵀA or AAᵀ). Accurate down to about 10⁻⁸ of the
    /// largest value, which is all the staircase diagnostics need.
    public static func of(_ a: [Double], rows: Int, cols: Int) throws -> [Double] {
        guard rows > 0, cols > 0 else { return [] }
        precondition(a.count == rows * cols)
        guard a.allSatisfy(\.isFinite) else { throw BackendError("singular values of a matrix with NaN or Inf entries") }
        let small = min(rows, cols)
        var gram = [Double](repeating: 0, count: small * small)
        a.withUnsafeBufferPointer { A in gram.withUnsafeMutableBufferPointer { G in
            // cols ≤ rows: AᵀA (cols×cols); else AAᵀ (rows×rows).
            let shape = cols <= rows ? GEMMShape(transA: true, m: cols, n: cols, k: rows) : GEMMShape(transB: true, m: rows, n: rows, k: cols)
            BLAS.singleThreaded { BLAS.gemm(shape, A.baseAddress!, A.baseAddress!, G.baseAddress!, alpha: 1.0, beta: 0) }
        } }
        return try SymmetricEigen.eigenvalues(gram, n: small).reversed().map { max($0, 0).squareRoot() }
    }

    /// The first `count` columns of an orthonormal basis from Gram–Schmidt (twice, for accuracy) on
    /// the columns of a rows×count Gaussian matrix: a random orthonormal frame, rows×count.
    public static func orthonormalColumns(_ g: [Double], rows: Int, count: Int) -> [Double] {
        var q = g
        for j in 0..<count {
            for _ in 0..<2 {
                for i in 0..<j {
                    var dot = 0.0
                    for r in 0..<rows { dot += q[r * count + i] * q[r * count + j] }
                    for r in 0..<rows { q[r * count + j] -= dot * q[r * count + i] }
                }
            }
            var norm = 0.0
            for r in 0..<rows { norm += q[r * count + j] * q[r * count + j] }
            norm = norm.squareRoot()
            for r in 0..<rows { q[r * count + j] /= max(norm, 1e-300) }
        }
        return q
    }
}
