import Foundation

/// Where the small host-side models (TwoLayerNet) compute their matrix products: OpenBLAS in place,
/// or a backend's GEMM kernel with the operands copied up and the product copied back. The models
/// of §1.3 are a few hundred parameters wide, so the copies cost less than launching the kernels;
/// the point of the device path is that the same run checks the backend's f64 GEMM step by step.
public final class MatrixProducts {
    let backend: (any Backend)?
    private var buffers: [GEMMShape: [any DeviceBuffer]] = [:]

    /// nil or a CPUBackend: OpenBLAS on the host arrays.
    public init(backend: (any Backend)?) {
        self.backend = backend?.computesOnHost == true ? nil : backend
    }

    public var onDevice: Bool { backend != nil }

    /// c = op(A)·op(B) (α = 1, β = 0), shapes as in GEMMShape.
    public func gemm(_ s: GEMMShape, _ a: [Double], _ b: [Double], into c: inout [Double]) throws {
        precondition(c.count >= s.m * s.n && a.count >= s.m * s.k && b.count >= s.k * s.n)
        guard let backend else {
            a.withUnsafeBufferPointer { A in b.withUnsafeBufferPointer { B in c.withUnsafeMutableBufferPointer { C in
                BLAS.gemm(s, A.baseAddress!, B.baseAddress!, C.baseAddress!, alpha: 1.0, beta: 0)
            } } }
            return
        }
        let key = s
        let bytes = MemoryLayout<Double>.stride
        if buffers[key] == nil {
            buffers[key] = [try backend.allocate(bytes: s.m * s.k * bytes), try backend.allocate(bytes: s.k * s.n * bytes),
                            try backend.allocate(bytes: s.m * s.n * bytes)]
        }
        let buf = buffers[key]!
        try backend.upload(Array(a.prefix(s.m * s.k)), to: buf[0])
        try backend.upload(Array(b.prefix(s.k * s.n)), to: buf[1])
        try backend.gemm(s, buf[0], buf[1], buf[2], alpha: 1.0, beta: 0.0)
        let out = try backend.download(buf[2], count: s.m * s.n, as: Double.self)
        c.replaceSubrange(0..<(s.m * s.n), with: out)
    }
}
