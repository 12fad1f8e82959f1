import CBLAS

extension CPUBackend {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func gemm<T: Scalar>(_ s: GEMMShape, _ a: any DeviceBuffer, _ b: any DeviceBuffer, _ c: any DeviceBuffer,
                                alpha: T, beta: T) throws {
        BLAS.gemm(s, host(a).pointer(T.self), host(b).pointer(T.self), host(c).pointer(T.self), alpha: alpha, beta: beta)
    }
}

/// Typed entry points to OpenBLAS for Float and Double (row-major, natural leading dimensions).
enum BLAS {
    /// Runs `body` with OpenBLAS on one thread: for work made of many small products, where waking
    /// and parking its threads costs more than the products.
    static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        let saved = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(saved) }
        return try body()
    }

    static func gemm<T: Scalar>(_ s: GEMMShape, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>,
                                alpha: T, beta: T, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil) {
        guard s.m > 0, s.n > 0 else { return }
        let ta = s.transA ? CblasTrans : CblasNoTrans, tb = s.transB ? CblasTrans : CblasNoTrans
        let lda = Int32(lda ?? max(s.transA ? s.m : s.k, 1)), ldb = Int32(ldb ?? max(s.transB ? s.k : s.n, 1))
        let ldcv = Int32(ldc ?? s.n)
        switch T.precision {
        case .f32:
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(s.m), Int32(s.n), Int32(s.k), Float(alpha),
                        UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), lda,
                        UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), ldb, Float(beta),
                        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldcv)
        case .f64:
            cblas_dgemm(CblasRowMajor, ta, tb, Int32(s.m), Int32(s.n), Int32(s.k), Double(alpha),
                        UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), lda,
                        UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), ldb, Double(beta),
                        UnsafeMutableRawPointer(c).assumingMemoryBound(to: Double.self), ldcv)
        }
    }
}
