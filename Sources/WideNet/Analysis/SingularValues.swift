import CBLAS

/// Singular values of small dense matrices through LAPACKE (dgesdd), and orthonormal bases.
public enum SingularValues {
    /// Descending singular values of the rows×cols row-major matrix `a` (LAPACK's divide-and-conquer
    /// SVD, dgesdd): backward stable, so each value is right to about 1e-16·s₁ absolute, and a
    /// spectrum spanning 12 decades comes back to 1e-4 relative at its smallest value (the square
    /// roots of AᵀA's eigenvalues lose everything below about 1e-8·s₁).
    public static func of(_ a: [Double], rows: Int, cols: Int) throws -> [Double] {
        guard rows > 0, cols > 0 else { return [] }
        precondition(a.count == rows * cols)
        guard a.allSatisfy(\.isFinite) else { throw BackendError("singular values of a matrix with NaN or Inf entries") }
        var m = a
        var s = [Double](repeating: 0, count: min(rows, cols))
        // U and Vᵀ are not computed (jobz = N), but LAPACKE checks their leading dimensions.
        var u = [Double](repeating: 0, count: 1), vt = [Double](repeating: 0, count: 1)
        let info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), Int32(rows), Int32(cols), &m, Int32(cols), &s,
                                  &u, Int32(rows), &vt, Int32(cols))
        guard info == 0 else { throw BackendError("LAPACKE_dgesdd failed (info \(info))") }
        return s
    }

    /// Singular values of the n×k outputs with each column's mean removed, over √n: the spectrum
    /// of the fitted map of a nonlinear net (uncentred, the mean output would count as a mode).
    public static func ofCentred(_ f: [Double], rows n: Int, cols k: Int) throws -> [Double] {
        var c = f
        for j in 0..<k {
            var mean = 0.0
            for i in 0..<n { mean += f[i * k + j] }
            mean /= Double(n)
            for i in 0..<n { c[i * k + j] -= mean }
        }
        return try of(c, rows: n, cols: k).map { $0 / Double(n).squareRoot() }
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
