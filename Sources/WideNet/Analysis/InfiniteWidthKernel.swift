import Foundation

/// The NTK of the two-layer ReLU net at infinite width (ARCHITECTURE.md §1.1), its spectrum, and the
/// kernel prediction of gradient descent, u(k) − y = (I − ηH)^k (u(0) − y), that a wide net tracks.
/// With the hidden layer trained H = H∞, H∞_ij = x_iᵀx_j (π − θ_ij) / 2π; training the output
/// layer too adds K_a,ij = κ² ‖x_i‖‖x_j‖ (sin θ_ij + (π − θ_ij) cos θ_ij) / 2π (the degree-1
/// arc-cosine kernel), so H = H∞ + K_a.
public struct InfiniteWidthKernel {
    public let n: Int
    /// X Xᵀ, the kernel H (n×n, row-major) and its eigenvalues in ascending order, and H∞ alone
    /// (the hidden layer's part, the limit of the empirical H(k) the masks give).
    public let inputGram: [Double], matrix: [Double], eigenvalues: [Double], hidden: [Double]
    /// Whether H includes the output layer's K_a.
    public let includesOutputLayer: Bool
    public var lambda0: Double { eigenvalues.first ?? 0 }
    public var lambdaMax: Double { eigenvalues.last ?? 0 }
    /// "H∞" or "H∞ + K_a", for messages and notes.
    public var name: String { includesOutputLayer ? "H∞ + K_a" : "H∞" }

    /// `outputLayerScale`: κ when the output layer is trained too (adds κ²·K_a), nil otherwise.
    public init(x: [Double], n: Int, d: Int, outputLayerScale kappa: Double? = nil) throws {
        self.n = n
        includesOutputLayer = kappa != nil
        let (gram, angles) = InfiniteWidthKernel.gramAndAngles(x, n: n, d: d)
        inputGram = gram
        var hInf = [Double](repeating: 0, count: n * n)
        // x_iᵀx_j (½ − θ/2π): exactly ½‖x_i‖² on the diagonal, where θ = 0.
        for q in 0..<(n * n) { hInf[q] = gram[q] * (0.5 - angles[q] / (2 * Double.pi)) }
        hidden = hInf
        var h = hInf
        for i in 0..<n {
            let normI = gram[i * n + i].squareRoot()
            for j in 0..<n {
                let q = i * n + j, theta = angles[q]
                if let kappa {
                    let norms = normI * gram[j * n + j].squareRoot()
                    h[q] += kappa * kappa * norms * (Foundation.sin(theta) + (Double.pi - theta) * Foundation.cos(theta)) / (2 * Double.pi)
                }
            }
        }
        matrix = h
        eigenvalues = try SymmetricEigen.eigenvalues(h, n: n)
    }

    /// X Xᵀ and the angles θ_ij = 2·atan2(‖x̂_i − x̂_j‖, ‖x̂_i + x̂_j‖) between the rows, which is
    /// accurate for near-parallel rows (arccos(x̂_iᵀx̂_j) is off by √ulp there) and exactly 0 on
    /// the diagonal, so H∞_ii = ½‖x_i‖².
    static func gramAndAngles(_ x: [Double], n: Int, d: Int) -> (gram: [Double], angles: [Double]) {
        let gram = SyntheticData.inputGram(x, n: n, d: d)
        var unit = x
        for i in 0..<n {
            let norm = gram[i * n + i].squareRoot()
            guard norm > 0 else { continue }
            for k in 0..<d { unit[i * d + k] = x[i * d + k] / norm }
        }
        var angles = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<i {
                var minus = 0.0, plus = 0.0
                for k in 0..<d {
                    let a = unit[i * d + k], b = unit[j * d + k]
                    minus += (a - b) * (a - b); plus += (a + b) * (a + b)
                }
                let theta = 2 * Foundation.atan2(minus.squareRoot(), plus.squareRoot())
                angles[i * n + j] = theta; angles[j * n + i] = theta
            }
        }
        return (gram, angles)
    }

    /// The theory needs H positive definite (Du et al.: no two inputs parallel).
    public func requirePositiveDefinite() throws {
        guard lambda0 > 1e-10 * max(lambdaMax, 1) else {
            throw BackendError(String(format: "λ0 = λ_min(%@) = %.3g: some inputs are parallel or repeated, so the NTK theory does not apply", name, lambda0))
        }
    }

    /// One step of the kernel prediction: r ← (I − ηH) r.
    public func predictionStep(_ r: [Double], learningRate lr: Double) -> [Double] {
        var next = r
        for i in 0..<n {
            var s = 0.0
            for j in 0..<n { s += matrix[i * n + j] * r[j] }
            next[i] = r[i] - lr * s
        }
        return next
    }
}
