import CBLAS

/// Eigenvalues (and vectors) of small symmetric matrices through LAPACKE (dsyevd).
public enum SymmetricEigen {
    /// Ascending eigenvalues of the n×n symmetric matrix `a` (row-major; only the lower triangle is read).
    public static func eigenvalues(_ a: [Double], n: Int) throws -> [Double] {
        try decompose(a, n: n, vectors: false).values
    }

    /// Ascending eigenvalues and their orthonormal eigenvectors: `vectors[j]` belongs to `values[j]`.
    public static func eigenpairs(_ a: [Double], n: Int) throws -> (values: [Double], vectors: [[Double]]) {
        let (values, m) = try decompose(a, n: n, vectors: true)
        // Row-major: the eigenvectors are the columns of the overwritten matrix.
        return (values, (0..<n).map { j in (0..<n).map { m[$0 * n + j] } })
    }

    private static func decompose(_ a: [Double], n: Int, vectors: Bool) throws -> (values: [Double], matrix: [Double]) {
        guard n > 0 else { return ([], []) }
        precondition(a.count == n * n)
        guard a.allSatisfy(\.isFinite) else { throw BackendError("eigenvalues of a matrix with NaN or Inf entries") }
        var m = a
        var w = [Double](repeating: 0, count: n)
        // On one thread: threaded BLAS-2 inside LAPACK splits its sums by the thread count, and λ0
        // sets the step size, so a run must not depend on what else the process is doing.
        let info = BLAS.singleThreaded {
            LAPACKE_dsyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: vectors ? "V" : "N")), CChar(UInt8(ascii: "L")), Int32(n), &m, Int32(n), &w)
        }
        guard info == 0 else { throw BackendError("LAPACKE_dsyevd failed (info \(info))") }
        return (w, m)
    }
}
