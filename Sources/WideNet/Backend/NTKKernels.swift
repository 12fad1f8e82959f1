// One kernel family of the Backend (Backend.swift), implemented by CPU/NTK+CPU.swift and
// OpenCL/NTK+OpenCL.swift.

/// The two-layer ReLU net's step on one block of neurons, its diagnostics and its tiles.
public protocol NTKKernels: AnyObject {
    /// NTK forward for one block: partialU[i] = Σ_r a_r·relu(w_rᵀx_i) (unscaled) and the packed masks.
    /// x: n×d, w: width×d, a: width, masks: n×words UInt32, partialU: n.
    func ntkForward<T: Scalar>(_ shape: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer, a: any DeviceBuffer,
                               masks: any DeviceBuffer, partialU: any DeviceBuffer, as: T.Type) throws

    /// One GD update of one block from the masks of the forward pass and the residual e (n):
    /// w_r ← w_r − scale·a_r·Σ_i S_ir e_i x_i, and, when `trainOutput`, a_r ← a_r − scale·Σ_i e_i relu(w_rᵀx_i)
    /// (both gradients at the old parameters). scale = η/√m.
    func ntkBackwardUpdate<T: Scalar>(_ shape: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer,
                                      a: any DeviceBuffer, masks: any DeviceBuffer, residual: any DeviceBuffer,
                                      scale: T, trainOutput: Bool) throws

    /// max_r ‖w_r − w0_r‖² and the number of flipped activations against masks0.
    func ntkDiagnostics<T: Scalar>(_ shape: NTKBlockShape, w: any DeviceBuffer, initial: InitialWeights,
                                   masks: any DeviceBuffer, masks0: any DeviceBuffer, as: T.Type) throws -> NTKBlockDiagnostics

    /// The NTK kernels' tiles for `precision`, nil where they are not configurable (the CPU's C tiles).
    func ntkTiles(_ precision: Precision) -> NTKKernelConfig?
    /// Runs `body` with the NTK tiles pinned to `config` (nil: the tuned choice); a backend without
    /// configurable tiles just runs it.
    func withNTKTiles(_ config: NTKKernelConfig?, _ body: () throws -> Void) throws
}

/// What a backend without tunable NTK tiles (the CPU's fixed C tiles) has.
extension NTKKernels {
    public func ntkTiles(_ precision: Precision) -> NTKKernelConfig? { nil }
    public func withNTKTiles(_ config: NTKKernelConfig?, _ body: () throws -> Void) throws { try body() }
}
