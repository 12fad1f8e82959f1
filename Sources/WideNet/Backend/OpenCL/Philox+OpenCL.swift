extension OpenCLBackend {
    public func fillRandom<T: Scalar>(_ out: any DeviceBuffer, count: Int, offset: UInt64, seed: UInt64,
                                      stream: UInt32, step: UInt32, distribution: RandomDistribution, scale: T) throws {
        guard count > 0 else { return }
        guard count * MemoryLayout<T>.stride <= out.byteCount else { throw BackendError("random fill past the buffer's end") }
        // The kernel indexes with 32-bit work-item ids; blocks are sized to stay below this.
        guard count <= Int(Int32.max) else { throw BackendError("random fill of \(count) values exceeds one launch (2^31 − 1)") }
        // The transforms run in T's precision (philox.cl), bit-identical with the CPU's.
        let k = try kernel([.philox], "philox_fill", options: try options(T.self))
        try cl.launch(k, LaunchPlans.philoxFill(count: count),
                      args: [.buffer(buffer(out)), .uint32(UInt32(count)),
                             .uint32(UInt32(truncatingIfNeeded: offset)), .uint32(UInt32(truncatingIfNeeded: offset >> 32)),
                             .uint32(UInt32(truncatingIfNeeded: seed)), .uint32(UInt32(truncatingIfNeeded: seed >> 32)),
                             .uint32(stream), .uint32(step), .int32(distribution.rawValue), .real(scale)])
    }
}
