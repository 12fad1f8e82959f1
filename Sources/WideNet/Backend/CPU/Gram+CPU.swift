/// CPU reference of gram.cl: Gram counts from packed masks and the arc-cosine kernel H∞.
extension CPUBackend {
    public func maskGram(_ s: NTKBlockShape, masks: any DeviceBuffer, counts: any DeviceBuffer) throws {
        let M = host(masks).pointer(UInt32.self), G = host(counts).pointer(UInt32.self)
        parallelRanges(s.n) { _, rows in
            for i in rows {
                let mi = M + i * s.words
                for j in 0...i {
                    let mj = M + j * s.words
                    var c = 0, q = 0
                    // Two words per popcount; rows need not be 8-byte aligned.
                    while q + 1 < s.words {
                        let x = UnsafeRawPointer(mi + q).loadUnaligned(as: UInt64.self)
                        let y = UnsafeRawPointer(mj + q).loadUnaligned(as: UInt64.self)
                        c += (x & y).nonzeroBitCount
                        q += 2
                    }
                    if q < s.words { c += (mi[q] & mj[q]).nonzeroBitCount }
                    G[i * s.n + j] &+= UInt32(truncatingIfNeeded: c)
                    if j != i { G[j * s.n + i] &+= UInt32(truncatingIfNeeded: c) }
                }
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func arcCosineGram<T: Scalar>(x: any DeviceBuffer, n: Int, d: Int, out: any DeviceBuffer, as: T.Type) throws {
        let X = host(x).pointer(T.self), H = host(out).pointer(T.self)
        BLAS.gemm(GEMMShape(transB: true, m: n, n: n, k: d), X, X, H, alpha: 1, beta: 0)
        for q in 0..<(n * n) { H[q] = ArcCosine.kernel(H[q]) }
    }
}

extension CPUBackend {
    /// The reference of arccos_product: ArcCosineTiles' product in f64 on X rebuilt as r_i·û_i.
    public func arcCosineProduct<T: Scalar>(unit: any DeviceBuffer, norms: any DeviceBuffer, n: Int, d: Int, v: any DeviceBuffer, vectors b: Int,
                                            out: any DeviceBuffer, as: T.Type) throws {
        guard n > 0, b > 0 else { return }
        let U = host(unit).pointer(T.self), R = host(norms).pointer(T.self), V = host(v).pointer(T.self), Y = host(out).pointer(T.self)
        let tiles = ArcCosineTiles(unit: (0..<(n * d)).map { Double(U[$0]) }, norms: (0..<n).map { Double(R[$0]) }, n: n, d: d)
        let y = tiles.product((0..<(b * n)).map { Double(V[$0]) }, vectors: b)
        for q in 0..<(b * n) { Y[q] = T(y[q]) }
    }
}

/// The order-1 arc-cosine kernel of a ReLU layer on unit vectors.
public enum ArcCosine {
    /// g (π − arccos g) / (2π), with g clamped to [−1, 1] against rounding.
    @inline(__always)
    public static func kernel<T: Scalar>(_ g: T) -> T {
        let c = min(max(g, -1), 1)
        return c * (T.pi - T.acos(c)) / (2 * T.pi)
    }
}
