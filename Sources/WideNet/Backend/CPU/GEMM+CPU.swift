import CBLAS
import Foundation

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
    /// Runs `body` with OpenBLAS on one thread: for work made of many small products, or products
    /// issued from our own worker threads, where OpenBLAS's threads would oversubscribe the cores.
    /// OpenBLAS's thread count is process-wide, so overlapping callers share one single-threaded
    /// period (counted under a lock) instead of restoring each other's settings mid-call.
    static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        singleThreadedPeriod.enter()
        defer { singleThreadedPeriod.leave() }
        return try body()
    }

    private static let singleThreadedPeriod = SingleThreadedPeriod()

    private final class SingleThreadedPeriod: @unchecked Sendable {
        private let lock = NSLock()
        private var depth = 0, saved: Int32 = 1
        func enter() {
            lock.lock(); defer { lock.unlock() }
            if depth == 0 { saved = openblas_get_num_threads(); openblas_set_num_threads(1) }
            depth += 1
        }
        func leave() {
            lock.lock(); defer { lock.unlock() }
            depth -= 1
            if depth == 0 { openblas_set_num_threads(saved) }
        }
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
