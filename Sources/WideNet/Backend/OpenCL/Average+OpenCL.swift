extension OpenCLBackend {
    public func runningMean<T: Scalar>(_ mean: any DeviceBuffer, toward x: any DeviceBuffer, count: Int, weight: T) throws {
        guard count > 0 else { return }
        guard count * MemoryLayout<T>.stride <= min(mean.byteCount, x.byteCount) else { throw BackendError("runningMean past a buffer's end") }
        let plan = LaunchPlans.runningMean
        try cl.launch(try kernel([.average], plan.kernel, options: try options(T.self, ["-DAWG=\(plan.local[0])"])), plan,
                      args: [.int64(Int64(count)), .real(weight), .buffer(buffer(x)), .buffer(buffer(mean))])
    }
}
