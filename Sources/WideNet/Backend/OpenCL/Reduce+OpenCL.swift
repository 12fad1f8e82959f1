extension OpenCLBackend {
    public func sumSquares<T: Scalar>(_ buffer: any DeviceBuffer, count: Int, as: T.Type) throws -> Double {
        guard count > 0 else { return 0 }
        guard count * MemoryLayout<T>.stride <= buffer.byteCount else { throw BackendError("sumSquares past the buffer's end") }
        let plan = LaunchPlans.reduction("sum_squares", bytesPerItem: T.precision.bytes)
        let out = try scratchBuffer("reduce.sumsq", bytes: plan.groups[0] * MemoryLayout<T>.stride)
        try cl.launch(try kernel([.reduce], "sum_squares", options: try options(T.self, ["-DRWG=\(plan.local[0])"])), plan,
                      args: [.int64(Int64(count)), .buffer(self.buffer(buffer)), .buffer(out)])
        // Group partials added in group order on the host.
        return try download(out, count: plan.groups[0], as: T.self).reduce(0.0) { $0 + Double($1) }
    }
}
