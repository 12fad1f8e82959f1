/// H∞·V on a backend's device (gram.cl's arccos_product) for the matrix-free eigensolver of
/// `widenet gram`: X's unit rows and norms are uploaded once, and each product is one upload of the
/// b vectors, one launch and one download, in f64 (the Krylov basis stays on the host).
final class DeviceArcCosineProduct {
    let backend: any Backend
    let n: Int, d: Int
    private let unit: any DeviceBuffer, norms: any DeviceBuffer
    private var v: (any DeviceBuffer)?, y: (any DeviceBuffer)?, capacity = 0

    init(backend: any Backend, tiles: ArcCosineTiles) throws {
        guard backend.info.supportsF64 else {
            throw BackendError.resources("gram's matrix-free products run in f64, and \(backend.info.deviceName) has no cl_khr_fp64: use --backend cpu")
        }
        self.backend = backend; n = tiles.n; d = tiles.d
        unit = try backend.allocate(bytes: max(1, n * d) * 8)
        norms = try backend.allocate(bytes: max(1, n) * 8)
        try backend.upload(tiles.unit, to: unit)
        try backend.upload(tiles.norms, to: norms)
    }

    /// Y = H∞·V for b vectors (V and Y b×n, one vector a row).
    func apply(_ values: [Double], vectors b: Int) throws -> [Double] {
        precondition(values.count == b * n)
        guard b > 0, n > 0 else { return [] }
        if b > capacity {
            v = try backend.allocate(bytes: b * n * 8); y = try backend.allocate(bytes: b * n * 8); capacity = b
        }
        guard let v, let y else { preconditionFailure("device vectors not allocated") }
        try backend.upload(values, to: v)
        try backend.arcCosineProduct(unit: unit, norms: norms, n: n, d: d, v: v, vectors: b, out: y, as: Double.self)
        return try backend.download(y, count: b * n, as: Double.self)
    }
}
