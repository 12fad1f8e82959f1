extension OpenCLBackend {
    public func sumSquares<T: Scalar>(_ buffer: any DeviceBuffer, count: Int, as: T.Type) throws -> Double {
        guard count > 0 else { return 0 }
        guard count <= Int(Int32.max) else { throw BackendError("sumSquares of \(count) values exceeds one launch") }
        let rwg = 128, groups = 256
        let out = try scratchBuffer("reduce.sumsq", bytes: groups * MemoryLayout<T>.stride)
        try cl.launch(try kernel([.reduce], "sum_squares", options: try options(T.self, ["-DRWG=\(rwg)"])),
                      global: [groups * rwg], local: [rwg], args: [.int(count), .buffer(self.buffer(buffer)), .buffer(out)])
        // Group partials added in group order on the host.
        return try download(out, count: groups, as: T.self).reduce(0.0) { $0 + Double($1) }
    }
}
