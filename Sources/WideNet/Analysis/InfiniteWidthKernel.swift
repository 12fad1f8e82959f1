import Foundation

/// H∞, the NTK of the two-layer ReLU net at infinite width on unit-norm inputs (ARCHITECTURE.md
/// §1.1: H∞_ij = x_iᵀx_j (π − arccos x_iᵀx_j) / 2π), its spectrum, and the kernel prediction of
/// gradient descent, u(k) − y = (I − ηH∞)^k (u(0) − y), that a wide net tracks.
public struct InfiniteWidthKernel {
    public let n: Int
    /// X Xᵀ and H∞, n×n row-major, and the eigenvalues of H∞ in ascending order.
    public let inputGram: [Double], matrix: [Double], eigenvalues: [Double]
    public var lambda0: Double { eigenvalues.first ?? 0 }
    public var lambdaMax: Double { eigenvalues.last ?? 0 }

    public init(x: [Double], n: Int, d: Int) throws {
        self.n = n
        inputGram = SyntheticData.inputGram(x, n: n, d: d)
        matrix = inputGram.map(ArcCosine.kernel)
        eigenvalues = try SymmetricEigen.eigenvalues(matrix, n: n)
    }

    /// The theory needs H∞ positive definite (Du et al.: no two inputs parallel).
    public func requirePositiveDefinite() throws {
        guard lambda0 > 1e-10 * max(lambdaMax, 1) else {
            throw BackendError(String(format: "λ0 = λ_min(H∞) = %.3g: some inputs are parallel or repeated, so the NTK theory does not apply", lambda0))
        }
    }

    /// One step of the kernel prediction: r ← (I − ηH∞) r.
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
