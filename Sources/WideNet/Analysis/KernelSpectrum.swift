import Foundation

/// The fine-grained analysis of Arora, Du, Hu, Li and Wang (ICML 2019) on the kernel H of a run
/// (H∞, or H∞ + K_a with the output layer trained): with H = Σ λ_i v_i v_iᵀ, gradient descent at
/// width → ∞ leaves ½‖u(k) − y‖² = ½ Σ_i (1 − ηλ_i)^{2k} (v_iᵀ(y − u(0)))², so the label's weight on
/// the large eigenvalues decides how fast it trains (this sum is the run's kernel_loss), and the
/// complexity √(2 yᵀH⁻¹y / n) enters their generalisation bound.
public struct KernelSpectrum {
    /// Ascending eigenvalues, and `vectors[i]` the unit eigenvector of `values[i]`.
    public let values: [Double], vectors: [[Double]]

    public init(_ kernel: InfiniteWidthKernel) throws {
        (values, vectors) = try SymmetricEigen.eigenpairs(kernel.matrix, n: kernel.n)
    }

    /// (v_iᵀ r)², in the order of the eigenvalues.
    public func projections(_ r: [Double]) -> [Double] {
        vectors.map { v in
            let p = zip(v, r).reduce(0.0) { $0 + $1.0 * $1.1 }
            return p * p
        }
    }

    /// √(2 yᵀH⁻¹y / n).
    public func complexity(_ y: [Double]) -> Double {
        let quadratic = zip(projections(y), values).reduce(0.0) { $0 + $1.0 / $1.1 }
        return (2 * quadratic / Double(max(y.count, 1))).squareRoot()
    }
}
