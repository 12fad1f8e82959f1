extension OpenCLBackend {
    public func maskGram(_ s: NTKBlockShape, masks: any DeviceBuffer, counts: any DeviceBuffer) throws {
        guard s.n > 0 else { return }
        let tile = 8
        let k = try kernel([.gram], "mask_gram", options: try options(Float.self, ["-DTILE=\(tile)"]))
        try cl.launch(k, global: [s.n, s.n], local: [tile, tile],
                      args: [.int(s.n), .int(s.words), .buffer(buffer(masks)), .buffer(buffer(counts))])
    }

    public func arcCosineGram<T: Scalar>(x: any DeviceBuffer, n: Int, d: Int, out: any DeviceBuffer, as: T.Type) throws {
        guard n > 0 else { return }
        let tile = 8
        let k = try kernel([.gram], "arccos_gram", options: try options(T.self, ["-DTILE=\(tile)"]))
        try cl.launch(k, global: [n, n], local: [tile, tile],
                      args: [.int(n), .int(d), .buffer(buffer(x)), .buffer(buffer(out))])
    }
}
