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
        // Column-major: eigenvector j is the j-th run of n values.
        return (values, (0..<n).map { j in Array(m[(j * n)..<((j + 1) * n)]) })
    }

    /// dsyevd on the column-major copy of `a`, as LAPACKE's row-major dsyevd computes it (the same
    /// call, the same bits), but with the transposition done here, in place, on Int offsets: LAPACKE's
    /// own transposes and NaN scan index with 32 bits and overflow once n² > 2³¹ (n > 46 340), and its
    /// transposed copy would be one more n×n.
    private static func decompose(_ a: [Double], n: Int, vectors: Bool) throws -> (values: [Double], matrix: [Double]) {
        guard n > 0 else { return ([], []) }
        precondition(a.count == n * n)
        guard a.allSatisfy(\.isFinite) else { throw BackendError("eigenvalues of a matrix with NaN or Inf entries") }
        var m = a
        m.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { for j in 0..<i { p.swapAt(i * n + j, j * n + i) } }
        }
        var w = [Double](repeating: 0, count: n)
        let (job, lower) = (CChar(UInt8(ascii: vectors ? "V" : "N")), CChar(UInt8(ascii: "L")))
        // The workspace dsyevd asks for (as LAPACKE asks: its optimum, which lets dsytrd block); with
        // eigenvectors it is at least 2n² + 6n + 1 values, which LAPACK's 32-bit sizes cap.
        var query = [0.0], iquery: [Int32] = [0]
        let asked = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, job, lower, Int32(n), &m, Int32(n), &w, &query, -1, &iquery, -1)
        guard asked == 0 else { throw BackendError("LAPACKE_dsyevd's workspace query failed (info \(asked))") }
        let minimum = vectors ? 1 + 6 * Double(n) + 2 * Double(n) * Double(n) : 2 * Double(n) + 1
        let lwork = max(query[0], minimum), liwork = max(Int(iquery[0]), vectors ? 3 + 5 * n : 1)
        guard lwork < Double(Int32.max) else {
            throw BackendError("the eigenvectors of an n×n matrix at n = \(n) need a LAPACK workspace of 2n² values, past its 32-bit sizes "
                + "(n ≤ 32 766); ask for eigenvalues only, or a smaller n")
        }
        var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: liwork)
        // On one thread: threaded BLAS-2 inside LAPACK splits its sums by the thread count, and λ0
        // sets the step size, so a run must not depend on what else the process is doing.
        let info = BLAS.singleThreaded {
            LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, job, lower, Int32(n), &m, Int32(n), &w, &work, Int32(lwork), &iwork, Int32(liwork))
        }
        guard info == 0 else { throw BackendError("LAPACKE_dsyevd failed (info \(info))") }
        return (w, m)
    }
}
