// One kernel family of the Backend (Backend.swift), implemented by CPU/Gram+CPU.swift and
// OpenCL/Gram+OpenCL.swift.

/// The empirical NTK Gram matrix from the masks, and the infinite-width kernel H∞.
public protocol GramKernels: AnyObject {
    /// counts[i·n + j] += Σ_r S_ir S_jr over the block (popcount of AND of packed masks); counts n×n UInt32.
    func maskGram(_ shape: NTKBlockShape, masks: any DeviceBuffer, counts: any DeviceBuffer) throws

    /// H∞_ij = x_iᵀx_j (π − arccos(x_iᵀx_j)) / (2π) for n×d rows x (out n×n).
    func arcCosineGram<T: Scalar>(x: any DeviceBuffer, n: Int, d: Int, out: any DeviceBuffer, as: T.Type) throws

    /// Y = H∞·V for b vectors (V and Y b×n, one vector a row) without storing H∞: every entry
    /// h_ij = r_i r_j c_ij (½ − θ_ij/2π), c_ij = û_iᵀû_j, is recomputed from the unit rows û (n×d) and norms r (n) of X,
    /// by ArcCosineTiles' forms (the matrix-free mode of `widenet gram`).
    func arcCosineProduct<T: Scalar>(unit: any DeviceBuffer, norms: any DeviceBuffer, n: Int, d: Int, v: any DeviceBuffer, vectors b: Int,
                                     out: any DeviceBuffer, as: T.Type) throws
}
