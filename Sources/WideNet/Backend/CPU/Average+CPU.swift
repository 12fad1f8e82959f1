extension CPUBackend {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func runningMean<T: Scalar>(_ mean: any DeviceBuffer, toward x: any DeviceBuffer, count: Int, weight: T) throws {
        guard count > 0 else { return }
        guard count * MemoryLayout<T>.stride <= min(mean.byteCount, x.byteCount) else { throw BackendError("runningMean past a buffer's end") }
        let m = host(mean).pointer(T.self), v = host(x).pointer(T.self)
        let piece = 1 << 16
        parallelRanges((count + piece - 1) / piece) { _, range in
            for q in (range.lowerBound * piece)..<min(count, range.upperBound * piece) {
                let old = m[q]
                m[q] = old + weight * (v[q] - old)
            }
        }
    }
}
