extension CPUBackend {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func sumSquares<T: Scalar>(_ buffer: any DeviceBuffer, count: Int, as: T.Type) throws -> Double {
        let x = host(buffer).pointer(T.self)
        guard count * MemoryLayout<T>.stride <= buffer.byteCount else { throw BackendError("sumSquares past the buffer's end") }
        // Fixed pieces summed in order: the same result whatever the thread count.
        let piece = 1 << 16, pieces = (count + piece - 1) / piece
        var sums = [Double](repeating: 0, count: pieces)
        sums.withUnsafeMutableBufferPointer { out in
            let out = out.baseAddress!
            parallelRanges(pieces) { _, range in
                for p in range {
                    var acc = 0.0
                    for q in (p * piece)..<min(count, (p + 1) * piece) { acc += Double(x[q]) * Double(x[q]) }
                    out[p] = acc
                }
            }
        }
        return sums.reduce(0, +)
    }
}
