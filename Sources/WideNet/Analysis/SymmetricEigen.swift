import CBLAS

/// Eigenvalues of small symmetric matrices through LAPACKE (dsyevd).
public enum SymmetricEigen {
    /// Ascending eigenvalues of the n×n symmetric matrix `a` (row-major; only the lower triangle is read).
    public static func eigenvalues(_ a: [Double], n: Int) throws -> [Double] {
        guard n > 0 else { return [] }
        precondition(a.count == n * n)
        guard a.allSatisfy(\.isFinite) else { throw BackendError("eigenvalues of a matrix with NaN or Inf entries") }
        var m = a
        var w = [Double](repeating: 0, count: n)
        // On one thread: threaded BLAS-2 inside LAPACK splits its sums by the thread count, and λ0
        // sets the step size, so a run must not depend on what else the process is doing.
        let info = BLAS.singleThreaded {
            LAPACKE_dsyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "L")), Int32(n), &m, Int32(n), &w)
        }
        guard info == 0 else { throw BackendError("LAPACKE_dsyevd failed (info \(info))") }
        return w
    }
}
