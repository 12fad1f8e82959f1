// One kernel family of the Backend (Backend.swift), implemented by CPU/MFLD+CPU.swift and
// OpenCL/MFLD+OpenCL.swift.

/// The mean-field particles' forward pass, fused noisy update and gradient on one block.
public protocol MFLDKernels: AnyObject {
    /// Mean-field forward pass of one particle block: partialF[j] = Σ_i h(θ_i, x_j) (unscaled).
    /// x: B×d, particles: N×D.
    func mfldForward<T: Scalar>(_ shape: MFLDShape, unit: ParticleUnit, unitScale: T, x: any DeviceBuffer,
                                particles: any DeviceBuffer, partialF: any DeviceBuffer) throws

    /// One fused noisy-gradient step of a particle block with the loss derivatives c_j = ℓ'_j / B:
    /// gradient Σ_j c_j ∇_θ h(θ, x_j) (plus `extraGradient`, N×D, when given), weight decay and
    /// Philox noise, in place.
    func mfldUpdate<T: Scalar>(_ shape: MFLDShape, unit: ParticleUnit, x: any DeviceBuffer, coefficients: any DeviceBuffer,
                               particles: any DeviceBuffer, extraGradient: (any DeviceBuffer)?,
                               parameters: MFLDStepParameters, as: T.Type) throws

    /// gradient (N×D) ← scale · Σ_j c_j ∇_θ h(θ_i, x_j), added to what it holds when `accumulate`.
    func mfldGradient<T: Scalar>(_ shape: MFLDShape, unit: ParticleUnit, unitScale: T, x: any DeviceBuffer,
                                 coefficients: any DeviceBuffer, particles: any DeviceBuffer, gradient: any DeviceBuffer,
                                 scale: T, accumulate: Bool) throws
}
