extension OpenCLBackend {
    public func gemm<T: Scalar>(_ s: GEMMShape, _ a: any DeviceBuffer, _ b: any DeviceBuffer, _ c: any DeviceBuffer,
                                alpha: T, beta: T) throws {
        try gemm(s, a, b, c, alpha: alpha, beta: beta, config: gemmConfig(T.precision))
    }

    /// The product with explicit tile sizes (the tuner and the tests use this).
    func gemm<T: Scalar>(_ s: GEMMShape, _ a: any DeviceBuffer, _ b: any DeviceBuffer, _ c: any DeviceBuffer,
                         alpha: T, beta: T, config: GEMMKernelConfig) throws {
        guard s.m > 0, s.n > 0 else { return }
        let opts = try options(T.self, config.defines + ["-DTRANS_A=\(s.transA ? 1 : 0)", "-DTRANS_B=\(s.transB ? 1 : 0)"])
        let k = try kernel([.gemm], config.kernelName, options: opts)
        try cl.launch(k, LaunchPlans.gemm(s, config, scalar: T.precision.bytes),
                      args: [.int(s.m), .int(s.n), .int(s.k), .real(alpha), .buffer(buffer(a)), .buffer(buffer(b)),
                             .real(beta), .buffer(buffer(c))])
    }
}
