import Foundation

/// `--activation linear|relu|tanh`.
public enum Activation: String, Sendable, CaseIterable, Codable {
    case linear, relu, tanh
    @inline(__always) func value(_ z: Double) -> Double {
        switch self { case .linear: return z; case .relu: return max(z, 0); case .tanh: return Foundation.tanh(z) }
    }
    @inline(__always) func derivative(_ z: Double, _ h: Double) -> Double {
        switch self { case .linear: return 1; case .relu: return z >= 0 ? 1 : 0; case .tanh: return 1 - h * h }
    }
}

/// `--optimizer gd|momentum|adam`.
public enum Optimizer: String, Sendable, CaseIterable, Codable { case gd, momentum, adam }

/// The small-initialisation two-layer net of DESIGN.md §1.3, f(X) = σ(X W1ᵀ) W2ᵀ with W1 m×d and
/// W2 k×m, loss ½‖f − Y‖²_F / n, trained by GD, heavy-ball momentum or Adam. Its sizes are small
/// (the dynamics, not the width, are the point), so it runs on the host with OpenBLAS.
public final class TwoLayerNet {
    public let n: Int, d: Int, m: Int, k: Int
    public let activation: Activation
    public private(set) var w1: [Double], w2: [Double]
    let x: [Double], y: [Double]
    private var z: [Double], h: [Double], f: [Double]
    private var state1: [Double], state2: [Double], second1: [Double], second2: [Double]
    private var t = 0

    public init(x: [Double], y: [Double], n: Int, d: Int, k: Int, w1: [Double], w2: [Double], m: Int, activation: Activation) {
        self.x = x; self.y = y; self.n = n; self.d = d; self.k = k; self.m = m
        self.w1 = w1; self.w2 = w2; self.activation = activation
        z = [Double](repeating: 0, count: n * m); h = z; f = [Double](repeating: 0, count: n * k)
        state1 = [Double](repeating: 0, count: m * d); second1 = state1
        state2 = [Double](repeating: 0, count: k * m); second2 = state2
    }

    /// The current outputs F (n×k) and the loss ½‖F − Y‖²_F / n.
    @discardableResult
    public func forward() -> Double {
        x.withUnsafeBufferPointer { X in w1.withUnsafeBufferPointer { W1 in z.withUnsafeMutableBufferPointer { Z in
            BLAS.gemm(GEMMShape(transB: true, m: n, n: m, k: d), X.baseAddress!, W1.baseAddress!, Z.baseAddress!, alpha: 1.0, beta: 0)
        } } }
        for q in 0..<(n * m) { h[q] = activation.value(z[q]) }
        h.withUnsafeBufferPointer { H in w2.withUnsafeBufferPointer { W2 in f.withUnsafeMutableBufferPointer { F in
            BLAS.gemm(GEMMShape(transB: true, m: n, n: k, k: m), H.baseAddress!, W2.baseAddress!, F.baseAddress!, alpha: 1.0, beta: 0)
        } } }
        var loss = 0.0
        for q in 0..<(n * k) { let e = f[q] - y[q]; loss += e * e }
        return 0.5 * loss / Double(n)
    }

    public var outputs: [Double] { f }

    /// One optimiser step from the outputs of the last `forward()`.
    public func step(_ optimizer: Optimizer, learningRate lr: Double, momentum beta: Double = 0.9) {
        var e = [Double](repeating: 0, count: n * k)
        for q in 0..<(n * k) { e[q] = (f[q] - y[q]) / Double(n) }
        var g2 = [Double](repeating: 0, count: k * m), gh = [Double](repeating: 0, count: n * m)
        var g1 = [Double](repeating: 0, count: m * d)
        e.withUnsafeBufferPointer { E in h.withUnsafeBufferPointer { H in g2.withUnsafeMutableBufferPointer { G2 in
            BLAS.gemm(GEMMShape(transA: true, m: k, n: m, k: n), E.baseAddress!, H.baseAddress!, G2.baseAddress!, alpha: 1.0, beta: 0)
        } } }
        e.withUnsafeBufferPointer { E in w2.withUnsafeBufferPointer { W2 in gh.withUnsafeMutableBufferPointer { GH in
            BLAS.gemm(GEMMShape(m: n, n: m, k: k), E.baseAddress!, W2.baseAddress!, GH.baseAddress!, alpha: 1.0, beta: 0)
        } } }
        for q in 0..<(n * m) { gh[q] *= activation.derivative(z[q], h[q]) }
        gh.withUnsafeBufferPointer { GZ in x.withUnsafeBufferPointer { X in g1.withUnsafeMutableBufferPointer { G1 in
            BLAS.gemm(GEMMShape(transA: true, m: m, n: d, k: n), GZ.baseAddress!, X.baseAddress!, G1.baseAddress!, alpha: 1.0, beta: 0)
        } } }
        t += 1
        apply(optimizer, lr: lr, beta: beta, grad: g1, weights: &w1, first: &state1, second: &second1)
        apply(optimizer, lr: lr, beta: beta, grad: g2, weights: &w2, first: &state2, second: &second2)
    }

    private func apply(_ o: Optimizer, lr: Double, beta: Double, grad: [Double], weights: inout [Double],
                       first: inout [Double], second: inout [Double]) {
        switch o {
        case .gd:
            for q in weights.indices { weights[q] -= lr * grad[q] }
        case .momentum:
            for q in weights.indices { first[q] = beta * first[q] + grad[q]; weights[q] -= lr * first[q] }
        case .adam:
            let b1 = 0.9, b2 = 0.999, eps = 1e-8
            let c1 = 1 - Foundation.pow(b1, Double(t)), c2 = 1 - Foundation.pow(b2, Double(t))
            for q in weights.indices {
                first[q] = b1 * first[q] + (1 - b1) * grad[q]
                second[q] = b2 * second[q] + (1 - b2) * grad[q] * grad[q]
                weights[q] -= lr * (first[q] / c1) / ((second[q] / c2).squareRoot() + eps)
            }
        }
    }

    /// Plateau skipping for a linear net (seed 004, theorem 1): near a saddle every unit (w1_r, w2_r)
    /// grows along the top eigenvector (v, −u)/√2 of the unit-wise update matrix [[I, −ηGᵀ], [−ηG, I]],
    /// G = ∇_{W2W1} L with top singular pair (u, s, v), by a factor 1 + ηs per step. Instead of
    /// waiting, scale every unit's component along it so that the new mode's strength Σ c_r²/2 reaches
    /// `fraction`·s, the scale at which the loss starts to fall. Returns the steps this replaces
    /// (log of the growth factor over log(1 + ηs)), or nil when there is nothing to grow.
    public func skipAlongTopDirection(fraction: Double, learningRate lr: Double) throws -> Double? {
        guard activation == .linear else { throw BackendError("plateau skipping is implemented for linear nets so far") }
        _ = forward()
        // G (k×d) = Eᵀ X with E = (F − Y)/n.
        var e = [Double](repeating: 0, count: n * k)
        for q in 0..<(n * k) { e[q] = (f[q] - y[q]) / Double(n) }
        var g = [Double](repeating: 0, count: k * d)
        e.withUnsafeBufferPointer { E in x.withUnsafeBufferPointer { X in g.withUnsafeMutableBufferPointer { G in
            BLAS.gemm(GEMMShape(transA: true, m: k, n: d, k: n), E.baseAddress!, X.baseAddress!, G.baseAddress!, alpha: 1.0, beta: 0)
        } } }
        // Top singular pair by power iteration on GᵀG.
        var v = (0..<d).map { Double($0 % 7) - 3 + 0.5 }
        var sigma = 0.0
        var u = [Double](repeating: 0, count: k)
        for _ in 0..<200 {
            for a in 0..<k { u[a] = (0..<d).reduce(0.0) { $0 + g[a * d + $1] * v[$1] } }
            let un = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard un > 0 else { return nil }
            for a in 0..<k { u[a] /= un }
            for b in 0..<d { v[b] = (0..<k).reduce(0.0) { $0 + g[$1 * d + b] * u[$1] } }
            sigma = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard sigma > 0 else { return nil }
            for b in 0..<d { v[b] /= sigma }
        }
        // Components of the units along z = (v, −u)/√2.
        let inv = 1 / 2.0.squareRoot()
        var c = [Double](repeating: 0, count: m)
        for r in 0..<m {
            var acc = 0.0
            for b in 0..<d { acc += w1[r * d + b] * v[b] * inv }
            for a in 0..<k { acc -= w2[a * m + r] * u[a] * inv }
            c[r] = acc
        }
        let strength = c.reduce(0) { $0 + $1 * $1 } / 2
        let target = fraction * sigma
        guard strength > 0, strength < target else { return nil }
        let factor = (target / strength).squareRoot()
        for r in 0..<m {
            let delta = c[r] * (factor - 1)
            for b in 0..<d { w1[r * d + b] += delta * v[b] * inv }
            for a in 0..<k { w2[a * m + r] -= delta * u[a] * inv }
        }
        return Foundation.log(factor) / Foundation.log(1 + lr * sigma)
    }

    /// W2 W1 (k×d): the end-to-end map of a linear net.
    public func endToEnd() -> [Double] {
        var out = [Double](repeating: 0, count: k * d)
        w2.withUnsafeBufferPointer { W2 in w1.withUnsafeBufferPointer { W1 in out.withUnsafeMutableBufferPointer { O in
            BLAS.gemm(GEMMShape(m: k, n: d, k: m), W2.baseAddress!, W1.baseAddress!, O.baseAddress!, alpha: 1.0, beta: 0)
        } } }
        return out
    }
}
