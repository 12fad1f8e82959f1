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
    /// σ″ (zero almost everywhere for relu: the curvature the linearised GD map sees).
    @inline(__always) func secondDerivative(_ z: Double, _ h: Double) -> Double {
        switch self { case .linear, .relu: return 0; case .tanh: return -2 * h * (1 - h * h) }
    }
}

/// `--optimizer gd|momentum|adam`.
public enum Optimizer: String, Sendable, CaseIterable, Codable { case gd, momentum, adam }

/// The small-initialisation two-layer net of ARCHITECTURE.md §1.3, f(X) = σ(X W1ᵀ) W2ᵀ with W1 m×d and
/// W2 k×m, loss ½‖f − Y‖²_F / n, trained by GD, heavy-ball momentum or Adam, in f64. Its sizes are
/// small (the dynamics, not the width, are the point): the matrix products run on the chosen
/// backend (MatrixProducts), the elementwise work on the host.
public final class TwoLayerNet {
    public let n: Int, d: Int, m: Int, k: Int
    public let activation: Activation
    public internal(set) var w1: [Double], w2: [Double]
    let x: [Double], y: [Double]
    let products: MatrixProducts
    private(set) var z: [Double], h: [Double], f: [Double]
    private var state1: [Double], state2: [Double], second1: [Double], second2: [Double]
    private var t = 0

    public init(x: [Double], y: [Double], n: Int, d: Int, k: Int, w1: [Double], w2: [Double], m: Int, activation: Activation,
                products: MatrixProducts = MatrixProducts(backend: nil)) {
        self.x = x; self.y = y; self.n = n; self.d = d; self.k = k; self.m = m
        self.w1 = w1; self.w2 = w2; self.activation = activation; self.products = products
        z = [Double](repeating: 0, count: n * m); h = z; f = [Double](repeating: 0, count: n * k)
        state1 = [Double](repeating: 0, count: m * d); second1 = state1
        state2 = [Double](repeating: 0, count: k * m); second2 = state2
    }

    /// The weights and the optimiser's moments and step count: everything a continuation needs.
    struct State {
        var w1: [Double], w2: [Double], first1: [Double], first2: [Double], second1: [Double], second2: [Double], t: Int
    }

    var state: State {
        get { State(w1: w1, w2: w2, first1: state1, first2: state2, second1: second1, second2: second2, t: t) }
        set {
            precondition(newValue.w1.count == w1.count && newValue.w2.count == w2.count && newValue.first1.count == state1.count
                         && newValue.first2.count == state2.count && newValue.second1.count == second1.count
                         && newValue.second2.count == second2.count, "TwoLayerNet.state: shapes differ")
            w1 = newValue.w1; w2 = newValue.w2; state1 = newValue.first1; state2 = newValue.first2
            second1 = newValue.second1; second2 = newValue.second2; t = newValue.t
        }
    }

    /// The current outputs F (n×k) and the loss ½‖F − Y‖²_F / n.
    @discardableResult
    public func forward() throws -> Double {
        try products.gemm(GEMMShape(transB: true, m: n, n: m, k: d), x, w1, into: &z)
        let act = activation
        // Through buffer pointers: element access to a class's arrays pays an exclusivity check each.
        z.withUnsafeBufferPointer { Z in h.withUnsafeMutableBufferPointer { H in
            for q in 0..<Z.count { H[q] = act.value(Z[q]) }
        } }
        try products.gemm(GEMMShape(transB: true, m: n, n: k, k: m), h, w2, into: &f)
        let loss = f.withUnsafeBufferPointer { F in y.withUnsafeBufferPointer { Y in
            var acc = 0.0
            for q in 0..<F.count { let e = F[q] - Y[q]; acc += e * e }
            return acc
        } }
        return 0.5 * loss / Double(n)
    }

    /// The loss at other weights, leaving the net's own weights as they were; the activations are
    /// the trial's until the next forward().
    func loss(w1 trial1: [Double], w2 trial2: [Double]) throws -> Double {
        let saved = (w1, w2)
        defer { (w1, w2) = saved }
        (w1, w2) = (trial1, trial2)
        return try forward()
    }

    public var outputs: [Double] { f }

    /// E = (F − Y)/n, the loss's derivative with respect to the outputs, from the last forward().
    var outputError: [Double] {
        var e = [Double](repeating: 0, count: n * k)
        for q in 0..<(n * k) { e[q] = (f[q] - y[q]) / Double(n) }
        return e
    }

    /// ∇L = (∂L/∂W1 m×d, ∂L/∂W2 k×m) at the outputs of the last `forward()`.
    func gradient() throws -> (w1: [Double], w2: [Double]) {
        let e = outputError
        var g2 = [Double](repeating: 0, count: k * m), gh = [Double](repeating: 0, count: n * m)
        var g1 = [Double](repeating: 0, count: m * d)
        try products.gemm(GEMMShape(transA: true, m: k, n: m, k: n), e, h, into: &g2)
        try products.gemm(GEMMShape(m: n, n: m, k: k), e, w2, into: &gh)
        let act = activation
        z.withUnsafeBufferPointer { Z in h.withUnsafeBufferPointer { H in
            for q in 0..<gh.count { gh[q] *= act.derivative(Z[q], H[q]) }
        } }
        try products.gemm(GEMMShape(transA: true, m: m, n: d, k: n), gh, x, into: &g1)
        return (g1, g2)
    }

    /// One optimiser step from the outputs of the last `forward()` (or from their gradient, when the caller has it).
    public func step(_ optimizer: Optimizer, learningRate lr: Double, momentum beta: Double = 0.9) throws {
        try step(optimizer, learningRate: lr, momentum: beta, gradient: try gradient())
    }

    func step(_ optimizer: Optimizer, learningRate lr: Double, momentum beta: Double = 0.9,
              gradient g: (w1: [Double], w2: [Double])) throws {
        t += 1
        apply(optimizer, lr: lr, beta: beta, grad: g.w1, weights: &w1, first: &state1, second: &second1)
        apply(optimizer, lr: lr, beta: beta, grad: g.w2, weights: &w2, first: &state2, second: &second2)
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

    /// W2 W1 (k×d): the end-to-end map of a linear net.
    public func endToEnd() throws -> [Double] {
        var out = [Double](repeating: 0, count: k * d)
        try products.gemm(GEMMShape(m: k, n: d, k: m), w2, w1, into: &out)
        return out
    }
}
