extension OpenCLBackend {
    static let gemmTile = 16

    public func gemm<T: Scalar>(_ s: GEMMShape, _ a: any DeviceBuffer, _ b: any DeviceBuffer, _ c: any DeviceBuffer,
                                alpha: T, beta: T) throws {
        guard s.m > 0, s.n > 0 else { return }
        let ts = OpenCLBackend.gemmTile
        let opts = try options(T.self, ["-DTS=\(ts)", "-DTRANS_A=\(s.transA ? 1 : 0)", "-DTRANS_B=\(s.transB ? 1 : 0)"])
        let k = try kernel([.gemm], "gemm", options: opts)
        try cl.launch(k, global: [s.n, s.m], local: [ts, ts],
                      args: [.int(s.m), .int(s.n), .int(s.k), .real(alpha), .buffer(buffer(a)), .buffer(buffer(b)),
                             .real(beta), .buffer(buffer(c))])
    }
}
