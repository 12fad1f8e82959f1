import Foundation

/// How a depth-L residual net steps through its blocks (the seed's table, DESIGN §1.4), h = T/L,
/// t_l = l·h, F = ResidualFlow. Each is a discretisation of an ODE (or SDE) it converges to as L → ∞:
///
///   euler            x_{l+1} = x_l + h F(x_l, t_l)                                  (ResNet)   x′ = F, order 1
///   heun             x̃ = x_l + h F(x_l, t_l);  x_{l+1} = x_l + h/2 (F(x_l, t_l) + F(x̃, t_{l+1}))
///                                                                                   (FractalNet, RK2) x′ = F, order 2
///   backward-euler   x_{l+1} = x_l + h F(x_{l+1}, t_{l+1}) by fixed-point iteration  (PolyNet)  x′ = F, order 1
///   lm               x_{l+1} = (1 − k) x_l + k x_{l−1} + h F(x_l, t_l), fixed k      (LM-ResNet)
///                    x′ = F/(1 + k), its modified equation: order 1, 2 at k = 1 (leapfrog); the first
///                    step is Euler on that equation, x_1 = x_0 + h F(x_0, t_0)/(1 + k), which keeps the order
///   revnet           x = (y, z) halves: y_{l+1} = y_l + h P_y F((0, z_l), t_l), z_{l+1} = z_l + h P_z F((y_{l+1}, 0), t_l)
///                    y′ = P_y F((0, z), t), z′ = P_z F((y, 0), t) (ResidualFlow.coupled), order 1
///   euler-maruyama   x_{l+1} = x_l + h F(x_l, t_l) + σ g(x_l) ΔW_l,  ΔW_l ~ N(0, h I)  (stochastic depth)
///                    dX = F dt + σ g dW: strong order 1 with additive noise (g = I), ½ with noise on
///                    the residual branch (g = diag F(x, t), shake-shake-like)
public enum ResidualScheme: String, CaseIterable, Codable, Sendable {
    case euler, heun, backwardEuler = "backward-euler", lm, revnet, eulerMaruyama = "euler-maruyama"

    /// Its name in file names (end_points_<name>.npy).
    public var fileName: String { rawValue.replacingOccurrences(of: "-", with: "_") }

    public var isStochastic: Bool { self == .eulerMaruyama }

    /// The order of convergence theory gives (strong order for euler-maruyama).
    public func theoryOrder(_ s: ResidualSchemeSettings) -> Double {
        switch self {
        case .euler, .backwardEuler, .revnet: return 1
        case .heun: return 2
        case .lm: return s.lmK == 1 ? 2 : 1
        case .eulerMaruyama: return s.diffusion == .additive ? 1 : 0.5
        }
    }

    /// The limit it converges to, in words (summary.json, the report).
    public func limit(_ s: ResidualSchemeSettings) -> String {
        switch self {
        case .euler, .heun, .backwardEuler: return "x' = F(x, t)"
        case .lm: return "x' = F(x, t)/(1 + k), k = \(s.lmK)"
        case .revnet: return "y' = P_y F((0, z), t), z' = P_z F((y, 0), t)"
        case .eulerMaruyama:
            return s.diffusion == .additive ? "dX = F dt + σ dW, σ = \(s.noise)" : "dX = F dt + σ diag(F) dW, σ = \(s.noise)"
        }
    }
}

/// Where Euler–Maruyama's noise enters: σ dW (additive) or σ F(x, t) ⊙ dW (on the residual branch).
public enum ResidualDiffusion: String, CaseIterable, Codable, Sendable { case additive, multiplicative }

/// The numbers the schemes need besides the field and the depth.
public struct ResidualSchemeSettings: Sendable, Codable {
    /// backward-euler: the fixed-point iteration stops when max |x^(i+1) − x^(i)| ≤ tolerance.
    public var tolerance = 1e-12
    public var maxIterations = 200
    /// lm: the fixed k, −1 < k ≤ 1.
    public var lmK = 0.5
    /// euler-maruyama: σ and the diffusion's form.
    public var noise = 0.5
    public var diffusion: ResidualDiffusion = .additive
    public init() {}

    enum CodingKeys: String, CodingKey {
        case tolerance, maxIterations = "max_iterations", lmK = "lm_k", noise, diffusion
    }
}

/// A depth-L pass of `points` (P×d) through the blocks of one scheme.
public struct ResidualPass: Sendable {
    /// x_L, P×d.
    public var end: [Double]
    /// x_0 … x_L as (L+1)×P×d, when asked for.
    public var trajectory: [Double]?
}

/// A vector field x′ = F(x, t) on P points of dimension `dim` (rows of a P×d array), as the schemes step it.
public protocol VectorField: Sendable {
    var dim: Int { get }
    func callAsFunction(_ x: [Double], at t: Double) -> [Double]
}

extension ResidualFlow: VectorField {}

/// F(x) = a·x: a linear drift, whose Euler–Maruyama mean is exact, E[x_L] = (1 + ah)^L x_0
/// (the noise has mean zero), against the SDE's e^{aT} x_0.
public struct LinearDrift: VectorField {
    public let dim: Int, rate: Double
    public init(dim: Int, rate: Double) { self.dim = dim; self.rate = rate }
    public func callAsFunction(_ x: [Double], at t: Double) -> [Double] { x.map { rate * $0 } }
}

/// F(x) = sign(x)|x|^{1/2} per coordinate: continuous but not Lipschitz at 0, where x′ = F has the
/// solutions 0 and ±t²/4 from x_0 = 0, and (√|x_0| + t/2)² sign(x_0) from any other start.
public struct SquareRootField: VectorField {
    public let dim: Int
    public init(dim: Int) { self.dim = dim }
    public func callAsFunction(_ x: [Double], at t: Double) -> [Double] {
        x.map { $0 == 0 ? 0 : ($0 > 0 ? 1 : -1) * $0.magnitude.squareRoot() }
    }
}

public enum ResidualSchemes {
    /// Runs `scheme` with L = depth blocks over [0, horizon]. `increments`: euler-maruyama's Brownian
    /// increments ΔW_l, L×P×d (each N(0, h)); nil for the deterministic schemes.
    public static func pass(_ scheme: ResidualScheme, flow F: some VectorField, points x0: [Double], depth L: Int, horizon T: Double,
                            settings s: ResidualSchemeSettings, increments: [Double]? = nil, keepTrajectory: Bool = false) throws -> ResidualPass {
        let h = T / Double(L), n = x0.count
        var x = x0, previous = x0
        var trajectory: [Double]? = keepTrajectory ? x0 : nil
        trajectory?.reserveCapacity((L + 1) * n)
        for l in 0..<L {
            let t = Double(l) * h
            var next: [Double]
            switch scheme {
            case .euler:
                next = axpy(h, F(x, at: t), x)
            case .heun:
                let k1 = F(x, at: t), k2 = F(axpy(h, k1, x), at: t + h)
                next = (0..<n).map { x[$0] + 0.5 * h * (k1[$0] + k2[$0]) }
            case .backwardEuler:
                next = try implicitStep(F, x, t: t + h, h: h, block: l, settings: s)
            case .lm:
                let f = F(x, at: t)
                if l == 0 {
                    next = axpy(h / (1 + s.lmK), f, x)
                } else {
                    let k = s.lmK
                    next = (0..<n).map { (1 - k) * x[$0] + k * previous[$0] + h * f[$0] }
                }
            case .revnet:
                let d = F.dim, half = d / 2
                next = x
                var onlyZ = x
                for p in 0..<(n / d) { for j in 0..<half { onlyZ[p * d + j] = 0 } }
                let fz = F(onlyZ, at: t)
                for p in 0..<(n / d) { for j in 0..<half { next[p * d + j] += h * fz[p * d + j] } }
                var onlyY = next
                for p in 0..<(n / d) { for j in half..<d { onlyY[p * d + j] = 0 } }
                let fy = F(onlyY, at: t)
                for p in 0..<(n / d) { for j in half..<d { next[p * d + j] += h * fy[p * d + j] } }
            case .eulerMaruyama:
                guard let dw = increments, dw.count == L * n else {
                    throw BackendError("euler-maruyama needs \(L)×\(n) Brownian increments")
                }
                let f = F(x, at: t), base = l * n
                switch s.diffusion {
                case .additive: next = (0..<n).map { x[$0] + h * f[$0] + s.noise * dw[base + $0] }
                case .multiplicative: next = (0..<n).map { x[$0] + h * f[$0] + s.noise * f[$0] * dw[base + $0] }
                }
            }
            previous = x
            x = next
            trajectory?.append(contentsOf: x)
        }
        return ResidualPass(end: x, trajectory: trajectory)
    }

    /// x_{l+1} = x_l + h F(x_{l+1}, t_{l+1}) by fixed-point iteration from the Euler predictor; it
    /// converges when h·Lip(F) < 1. An error names the block and the last change when it does not.
    static func implicitStep(_ F: some VectorField, _ x: [Double], t: Double, h: Double, block l: Int,
                             settings s: ResidualSchemeSettings) throws -> [Double] {
        try implicitStepCounted(F, x, t: t, h: h, block: l, settings: s).next
    }

    /// implicitStep with the iterations it took.
    static func implicitStepCounted(_ F: some VectorField, _ x: [Double], t: Double, h: Double, block l: Int,
                                    settings s: ResidualSchemeSettings) throws -> (next: [Double], iterations: Int) {
        var y = axpy(h, F(x, at: t - h), x)
        var change = Double.infinity
        for i in 0..<s.maxIterations {
            let z = axpy(h, F(y, at: t), x)
            change = zip(z, y).map { abs($0 - $1) }.max() ?? 0
            y = z
            if change <= s.tolerance { return (y, i + 1) }
            if !change.isFinite { break }
        }
        throw BackendError("backward-euler: the fixed-point iteration of block \(l) (h = \(h)) did not converge in "
            + "\(s.maxIterations) iterations (last change \(change), tolerance \(s.tolerance)); it converges when h·Lip(F) < 1: "
            + "use more blocks (--depth) or a shorter --horizon")
    }

    /// Classical RK4 for x′ = G(x, t) with `steps` steps over [0, T]: the in-process reference.
    public static func rungeKutta4(_ G: (_ x: [Double], _ t: Double) -> [Double], points x0: [Double], steps: Int,
                                   horizon T: Double) -> [Double] {
        let h = T / Double(steps)
        var x = x0
        for l in 0..<steps {
            let t = Double(l) * h
            let k1 = G(x, t), k2 = G(axpy(h / 2, k1, x), t + h / 2), k3 = G(axpy(h / 2, k2, x), t + h / 2), k4 = G(axpy(h, k3, x), t + h)
            for i in x.indices { x[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) }
        }
        return x
    }

    /// x + a·y.
    static func axpy(_ a: Double, _ y: [Double], _ x: [Double]) -> [Double] {
        var out = x
        for i in out.indices { out[i] += a * y[i] }
        return out
    }
}
