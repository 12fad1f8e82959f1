import Foundation

/// Gradient descent linearised at one point, summed in closed form. With g the gradient and H the
/// Hessian there, τ steps of θ ← θ − η(g + H(θ − θ₀)) move the weights by
///   e(τ) = −η Σ_{s<τ} (I − ηH)^s g = φ_τ(H) g,   φ_τ(λ) = ((1 − ηλ)^τ − 1)/λ  (−ητ at λ = 0),
/// which grows by (1 + η|λ|) per step along every direction of negative curvature and settles each
/// stable one at its quadratic minimum. φ_τ(H) g is evaluated on the Krylov space of g, which holds
/// every eigen-direction g has a share in: exactly when the space is invariant (few distinct
/// curvatures, as in a linear net), and for the extremes first otherwise.
struct LinearisedGD {
    let space: KrylovSpace
    let learningRate: Double

    /// Negative curvature under this share of the largest is the slope of a minimum not yet reached,
    /// not a saddle's unstable direction.
    static let unstableShare = 1e-5
    /// Lanczos steps: at least `krylovFloor`, so that the most negative curvature is found even where the
    /// gradient holds it far below the stable directions' share, at most `krylovLimit`.
    static let krylovFloor = 40, krylovLimit = 160

    /// The Ritz pairs of negative curvature that carry the gradient.
    var unstable: [Int] {
        let scale = space.values.map(abs).max() ?? 0
        return space.values.indices.filter { space.values[$0] < -Self.unstableShare * scale && space.coefficients[$0] != 0 }
    }

    /// e(τ) for τ ≥ 0 steps (a whole number where some ηλ ≥ 1).
    func displacement(after tau: Double) -> [Double] {
        space.apply { Self.phi($0, tau, learningRate) }
    }

    static func phi(_ lambda: Double, _ tau: Double, _ lr: Double) -> Double {
        guard lambda != 0 else { return -lr * tau }
        let x = lr * lambda
        if x < 1 { return Foundation.expm1(tau * Foundation.log1p(-x)) / lambda }
        // ηλ ≥ 1: the stable direction overshoots and decays, alternating in sign.
        let sign = Int(tau.rounded()) % 2 == 0 ? 1.0 : -1.0
        return (sign * Foundation.pow(x - 1, tau) - 1) / lambda
    }
}

extension TwoLayerNet {
    /// GD linearised at the outputs of the last `forward()`, whose gradient is `g`.
    func linearisedGD(learningRate lr: Double, gradient g: (w1: [Double], w2: [Double])) throws -> LinearisedGD {
        let start = g.w1 + g.w2
        let hessian = try hessian()
        let gNorm = start.reduce(0) { $0 + $1 * $1 }.squareRoot()
        // Until every unstable Ritz pair that carries the gradient has converged (rounding seeds copies
        // of a multiple eigenvalue that carry none).
        let space = try KrylovSpace.of(start: start, maxDimension: LinearisedGD.krylovLimit, minDimension: LinearisedGD.krylovFloor,
                                       settled: { values, residuals, c, scale in
            values.indices.allSatisfy {
                values[$0] >= -LinearisedGD.unstableShare * scale || residuals[$0] <= 1e-10 * scale || abs(c[$0]) <= 1e-12 * gNorm
            }
        }, operator: hessian.apply)
        return LinearisedGD(space: space, learningRate: lr)
    }
}
