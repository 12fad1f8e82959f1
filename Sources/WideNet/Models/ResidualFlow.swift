import Foundation

/// The vector field of a ResNet whose blocks sample a smooth θ(t) (DESIGN §1.4):
///
///   F(x, t) = V(t) tanh(U(t) x + c(t)),   U(t) = U0 + t U1 (m×d),  V(t) = V0 + t V1 (d×m),  c(t) = c0 + t c1 (m)
///
/// d the state dimension, m the block width. Block l of a depth-L net on the horizon T is F(·, t_l),
/// t_l = l·h, h = T/L, so that L → ∞ is the ODE x′ = F(x, t). Entries are Philox normals of the
/// seed (stream residualField, step 0), U and c at scale 1/√d and ½, V at 1/√m, so ‖F‖ = O(1) and
/// its Lipschitz constant in x is O(1). Host f64: the dimensions are small.
public struct ResidualFlow: Sendable {
    public let dim: Int, width: Int
    /// (U0, U1) as 2×m×d, (V0, V1) as 2×d×m, (c0, c1) as 2×m, row-major: the arrays field_*.npy hold.
    public let u: [Double], v: [Double], c: [Double]

    public init(dim d: Int, width m: Int, seed: UInt64) {
        dim = d; width = m
        let g = PhiloxGenerator(seed: seed), stream = RandomStream.residualField.rawValue
        let nu = 2 * m * d, nc = 2 * m
        u = g.array(count: nu, offset: 0, stream: stream, step: 0, distribution: .normal, scale: 1 / Double(d).squareRoot())
        v = g.array(count: nu, offset: UInt64(nu), stream: stream, step: 0, distribution: .normal, scale: 1 / Double(m).squareRoot())
        c = g.array(count: nc, offset: UInt64(2 * nu), stream: stream, step: 0, distribution: .normal, scale: 0.5)
    }

    /// U(t), V(t), c(t) of one block.
    public struct Block: Sendable {
        public let u: [Double], v: [Double], c: [Double]
    }

    public func block(at t: Double) -> Block {
        let nu = width * dim
        return Block(u: (0..<nu).map { u[$0] + t * u[nu + $0] }, v: (0..<nu).map { v[$0] + t * v[nu + $0] },
                     c: (0..<width).map { c[$0] + t * c[width + $0] })
    }

    /// F(x_p, t) for each of the points in `x` (P×d, row-major), P×d.
    public func callAsFunction(_ x: [Double], at t: Double) -> [Double] {
        apply(block(at: t), to: x)
    }

    public func apply(_ b: Block, to x: [Double]) -> [Double] {
        let (d, m) = (dim, width), points = x.count / d
        var out = [Double](repeating: 0, count: x.count)
        var hidden = [Double](repeating: 0, count: m)
        for p in 0..<points {
            for j in 0..<m {
                var s = b.c[j]
                for k in 0..<d { s += b.u[j * d + k] * x[p * d + k] }
                hidden[j] = Foundation.tanh(s)
            }
            for i in 0..<d {
                var s = 0.0
                for j in 0..<m { s += b.v[i * m + j] * hidden[j] }
                out[p * d + i] = s
            }
        }
        return out
    }

    /// ‖V(t)‖_F ‖U(t)‖_F, a bound on F's Lipschitz constant in x at time t (tanh′ ≤ 1).
    public func lipschitzBound(at t: Double) -> Double {
        let b = block(at: t)
        return b.u.map { $0 * $0 }.reduce(0, +).squareRoot() * b.v.map { $0 * $0 }.reduce(0, +).squareRoot()
    }

    /// The RevNet's coupled field on x = (y, z), y the first d/2 coordinates:
    /// y′ = P_y F((0, z), t), z′ = P_z F((y, 0), t). Each half moves by the other alone.
    public func coupled(_ x: [Double], at t: Double) -> [Double] {
        let b = block(at: t), d = dim, half = d / 2
        var onlyZ = x, onlyY = x
        for p in 0..<(x.count / d) {
            for k in 0..<half { onlyZ[p * d + k] = 0 }
            for k in half..<d { onlyY[p * d + k] = 0 }
        }
        let fz = apply(b, to: onlyZ), fy = apply(b, to: onlyY)
        var out = fz
        for p in 0..<(x.count / d) { for k in half..<d { out[p * d + k] = fy[p * d + k] } }
        return out
    }

    /// P input points in R^d: for d = 2 evenly spaced on the unit circle (the pictures), otherwise
    /// Philox normals (stream residualField, step 1) scaled to the unit sphere.
    public static func points(_ count: Int, dim d: Int, seed: UInt64) -> [Double] {
        if d == 2 {
            return (0..<count).flatMap { i -> [Double] in
                let a = 2 * Double.pi * Double(i) / Double(count)
                return [Foundation.cos(a), Foundation.sin(a)]
            }
        }
        var x = PhiloxGenerator(seed: seed).array(count: count * d, stream: RandomStream.residualField.rawValue, step: 1,
                                                  distribution: .normal, scale: 1.0)
        for p in 0..<count {
            let norm = (0..<d).map { x[p * d + $0] * x[p * d + $0] }.reduce(0, +).squareRoot()
            if norm > 0 { for k in 0..<d { x[p * d + k] /= norm } }
        }
        return x
    }
}
