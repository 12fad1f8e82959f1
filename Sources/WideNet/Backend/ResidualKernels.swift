import Foundation

// One kernel family of the Backend (Backend.swift), implemented by CPU/Residual+CPU.swift and
// OpenCL/Residual+OpenCL.swift: the element-wise work of ResidualNet's blocks and the updates.

/// How parameter_step moves θ: plain GD, heavy-ball momentum or Adam (the saddle net's rules).
public struct ParameterRule: Sendable, Hashable {
    public var optimizer: Optimizer
    public var learningRate: Double
    /// Momentum's β, or Adam's β₁.
    public var beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8
    /// The update's number t ≥ 1 (Adam's bias corrections 1 − β^t).
    public var step = 1

    public init(_ optimizer: Optimizer, learningRate: Double, step: Int = 1) {
        self.optimizer = optimizer; self.learningRate = learningRate; self.step = step
    }

    var corrections: (Double, Double) {
        (1 - Foundation.pow(beta1, Double(step)), 1 - Foundation.pow(beta2, Double(step)))
    }
}

public protocol ResidualKernels: AnyObject {
    /// Z[p·m + j] += c[j], then A = σ(Z), for rows × m values (one row a point).
    func biasActivation<T: Scalar>(_ z: any DeviceBuffer, bias c: any DeviceBuffer, activations a: any DeviceBuffer, rows: Int, columns m: Int,
                                   activation: Activation, as: T.Type) throws
    /// D ← s·D ⊙ σ′(Z) for count values (σ′ of tanh from A = tanh Z).
    func activationBackward<T: Scalar>(_ d: any DeviceBuffer, preactivations z: any DeviceBuffer, activations a: any DeviceBuffer, count: Int,
                                       scale s: T, activation: Activation) throws
    /// Y ← a·X + b·Y for count values.
    func axpby<T: Scalar>(_ a: T, _ x: any DeviceBuffer, _ b: T, _ y: any DeviceBuffer, count: Int) throws
    /// θ ← θ − η·u(g) for count values; `first` and `second` are the rule's moments (unused by gd,
    /// `second` unused by momentum, but always buffers of count values).
    func parameterStep<T: Scalar>(_ theta: any DeviceBuffer, gradient g: any DeviceBuffer, first: any DeviceBuffer, second: any DeviceBuffer,
                                  count: Int, rule: ParameterRule, as: T.Type) throws
}

extension Activation {
    /// resnet.cl's ACT.
    var kernelCode: Int { switch self { case .tanh: return 0; case .relu: return 1; case .linear: return 2 } }
}

extension Optimizer {
    /// resnet.cl's OPT.
    var kernelCode: Int { switch self { case .gd: return 0; case .momentum: return 1; case .adam: return 2 } }
}
