import Foundation

extension TwoLayerNet {
    /// The number of weights: W1 (m×d) then W2 (k×m), flattened row-major in that order, are the
    /// coordinates of the linearised GD map that plateau skipping extrapolates.
    var parameterCount: Int { m * d + k * m }

    /// The Hessian of the loss at the outputs of the last `forward()`, as an operator.
    func hessian() throws -> LossHessian { try LossHessian(self) }
}

/// H·v for the Hessian H of a TwoLayerNet's loss at one point, exactly (no finite differences), with
/// the point's factors computed once and the scratch arrays kept, for the many products of a Krylov
/// space; it keeps its own copies, so the net may move on (a line search) while it is used. With Z = X W1ᵀ, A = σ(Z), F = A W2ᵀ and E = (F − Y)/n, the gradient is
/// (((E W2) ⊙ σ′(Z))ᵀ X, Eᵀ A); its derivative along v = (V1, V2) is
///   dZ = X V1ᵀ,  dA = σ′(Z) ⊙ dZ,  dE = (dA W2ᵀ + A V2ᵀ)/n,
///   d∇W2 = dEᵀ A + Eᵀ dA,  d∇W1 = ((dE W2 + E V2) ⊙ σ′(Z) + (E W2) ⊙ σ″(Z) ⊙ dZ)ᵀ X.
final class LossHessian {
    let net: TwoLayerNet
    private let e: [Double], slope: [Double], ew2Curve: [Double], h: [Double], w2: [Double]
    private var dz: [Double], da: [Double], back: [Double], more: [Double]
    private var de: [Double], part: [Double], out1: [Double], out2: [Double], more2: [Double]

    init(_ net: TwoLayerNet) throws {
        self.net = net
        let (n, m, k, d) = (net.n, net.m, net.k, net.d)
        e = net.outputError
        var slope = [Double](repeating: 0, count: n * m), curve = slope, ew2 = slope
        try net.products.gemm(GEMMShape(m: n, n: m, k: k), e, net.w2, into: &ew2)
        let act = net.activation
        net.z.withUnsafeBufferPointer { Z in net.h.withUnsafeBufferPointer { A in
            for q in 0..<Z.count { slope[q] = act.derivative(Z[q], A[q]); curve[q] = act.secondDerivative(Z[q], A[q]) }
        } }
        for q in curve.indices { curve[q] *= ew2[q] }
        self.slope = slope; ew2Curve = curve; h = net.h; w2 = net.w2
        dz = slope; da = slope; back = slope; more = slope
        de = [Double](repeating: 0, count: n * k); part = de
        out1 = [Double](repeating: 0, count: m * d); out2 = [Double](repeating: 0, count: k * m); more2 = out2
    }

    func apply(_ v: [Double]) throws -> [Double] {
        let (n, m, k, d) = (net.n, net.m, net.k, net.d)
        precondition(v.count == net.parameterCount, "LossHessian: \(v.count) values for \(net.parameterCount) weights")
        let v1 = Array(v[0..<(m * d)]), v2 = Array(v[(m * d)...])
        let p = net.products
        try p.gemm(GEMMShape(transB: true, m: n, n: m, k: d), net.x, v1, into: &dz)
        // Through buffer pointers: element access to a class's arrays pays an exclusivity check each.
        slope.withUnsafeBufferPointer { S in dz.withUnsafeBufferPointer { Z in da.withUnsafeMutableBufferPointer { A in
            for q in 0..<A.count { A[q] = S[q] * Z[q] }
        } } }
        try p.gemm(GEMMShape(transB: true, m: n, n: k, k: m), da, w2, into: &de)
        try p.gemm(GEMMShape(transB: true, m: n, n: k, k: m), h, v2, into: &part)
        let invN = 1 / Double(n)
        part.withUnsafeBufferPointer { P in de.withUnsafeMutableBufferPointer { E in
            for q in 0..<E.count { E[q] = (E[q] + P[q]) * invN }
        } }

        try p.gemm(GEMMShape(transA: true, m: k, n: m, k: n), de, h, into: &out2)
        try p.gemm(GEMMShape(transA: true, m: k, n: m, k: n), e, da, into: &more2)
        for q in out2.indices { out2[q] += more2[q] }

        try p.gemm(GEMMShape(m: n, n: m, k: k), de, w2, into: &back)
        try p.gemm(GEMMShape(m: n, n: m, k: k), e, v2, into: &more)
        slope.withUnsafeBufferPointer { S in ew2Curve.withUnsafeBufferPointer { C in dz.withUnsafeBufferPointer { Z in
            more.withUnsafeBufferPointer { M in back.withUnsafeMutableBufferPointer { B in
                for q in 0..<B.count { B[q] = (B[q] + M[q]) * S[q] + C[q] * Z[q] }
            } }
        } } }
        try p.gemm(GEMMShape(transA: true, m: m, n: d, k: n), back, net.x, into: &out1)
        return out1 + out2
    }
}
