extension CPUBackend {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func fillRandom<T: Scalar>(_ out: any DeviceBuffer, count: Int, offset: UInt64, seed: UInt64,
                                      stream: UInt32, step: UInt32, distribution: RandomDistribution, scale: T) throws {
        let b = host(out)
        guard count * MemoryLayout<T>.stride <= b.byteCount else { throw BackendError("random fill past the buffer's end") }
        PhiloxGenerator(seed: seed).fill(UnsafeMutableBufferPointer(start: b.pointer(T.self), count: count),
                                         offset: offset, stream: stream, step: step,
                                         distribution: distribution, scale: scale)
    }
}
