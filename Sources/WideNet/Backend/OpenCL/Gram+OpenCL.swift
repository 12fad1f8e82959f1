extension OpenCLBackend {
    public func maskGram(_ s: NTKBlockShape, masks: any DeviceBuffer, counts: any DeviceBuffer) throws {
        guard s.n > 0 else { return }
        let tiles = gramConfig
        let k = try kernel([.gram], "mask_gram", options: try options(Float.self, ["-DTILE=\(tiles.tile)"]))
        try cl.launch(k, LaunchPlans.gram("mask_gram", n: s.n, tiles),
                      args: [.int(s.n), .int(s.words), .buffer(buffer(masks)), .buffer(buffer(counts))])
    }

    public func arcCosineGram<T: Scalar>(x: any DeviceBuffer, n: Int, d: Int, out: any DeviceBuffer, as: T.Type) throws {
        guard n > 0 else { return }
        let tiles = gramConfig
        let k = try kernel([.gram], "arccos_gram", options: try options(T.self, ["-DTILE=\(tiles.tile)"]))
        try cl.launch(k, LaunchPlans.gram("arccos_gram", n: n, tiles), args: [.int(n), .int(d), .buffer(buffer(x)), .buffer(buffer(out))])
    }

    public func arcCosineProduct<T: Scalar>(unit: any DeviceBuffer, norms: any DeviceBuffer, n: Int, d: Int, v: any DeviceBuffer, vectors b: Int,
                                            out: any DeviceBuffer, as: T.Type) throws {
        guard n > 0, b > 0 else { return }
        let plan = LaunchPlans.arcCosineProduct(n: n, d: d, vectors: b, scalar: MemoryLayout<T>.stride, limits: cl.limits)
        let k = try kernel([.gram], plan.launch.kernel, options: try options(T.self, plan.defines))
        try cl.launch(k, plan.launch, args: [.int(n), .buffer(buffer(unit)), .buffer(buffer(norms)), .buffer(buffer(v)), .buffer(buffer(out))])
    }
}
