import Foundation
import Testing
@testable import WideNet

/// The trainable ResNet (ResidualNet): backpropagation against central finite differences in f64,
/// the CPU and OpenCL backends step by step, and resnet.cl's kernels through the selftest.
@Suite struct ResNetTrainTests {
    static func net<T: Scalar>(_: T.Type, _ backend: any Backend, shape s: ResidualNet<T>.Shape, points p: Int, activation: Activation,
                               seed: UInt64) throws -> (ResidualNet<T>, [Double]) {
        var rng = CheckRNG(seed: seed)
        let x = rng.normals(p * s.inputs, as: Double.self), y = rng.normals(p, as: Double.self)
        // Perturbed away from the smooth start, so that every tensor (b, w, the later blocks) has a gradient of its own.
        let theta = ResidualNet<T>.initialParameters(s, horizon: 1.5, seed: seed).map { t in t.map { $0 + 0.3 * rng.normals(1, as: Double.self)[0] } }
        return (try ResidualNet<T>(backend: backend, shape: s, horizon: 1.5, activation: activation, x: x, points: p, parameters: theta), y)
    }

    @Test(arguments: [Activation.tanh, .relu, .linear])
    func backpropagationMatchesFiniteDifferences(_ activation: Activation) throws {
        let s = ResidualNet<Double>.Shape(inputs: 2, dim: 3, width: 5, depth: 4)
        let (net, y) = try Self.net(Double.self, CPUBackend(), shape: s, points: 7, activation: activation, seed: 11)
        let grad = try net.gradient(labels: y)
        let theta = try net.parameters()
        let eps = 1e-6
        var worst = 0.0
        for (i, tensor) in theta.enumerated() {
            for q in tensor.indices {
                func loss(_ delta: Double) throws -> Double {
                    var t = theta
                    t[i][q] += delta
                    try net.restore(.init(theta: t, first: theta.map { $0.map { _ in 0 } }, second: theta.map { $0.map { _ in 0 } }, updates: 0))
                    return ResidualNet<Double>.loss(try net.outputs(), y)
                }
                let fd = (try loss(eps) - loss(-eps)) / (2 * eps)
                let err = abs(fd - grad[i][q]) / max(1e-3, abs(fd))
                worst = max(worst, err)
                #expect(err < 1e-5, "\(activation) ∂loss/∂\(s.names[i])[\(q)]: backprop \(grad[i][q]), differences \(fd)")
            }
        }
        #expect(worst > 0, "no gradient was compared")
    }

    /// Five Adam steps (and five GD steps) on the CPU and on the OpenCL device from the same start:
    /// the losses and parameters agree to the precision's rounding at every step.
    @Test(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason), arguments: [Precision.f32, .f64])
    func cpuAndOpenCLAgreeStepByStep(_ precision: Precision) throws {
        let gpu = try TestDevices.backend()
        if precision == .f64 && !gpu.info.supportsF64 { return }
        func compare<T: Scalar>(_: T.Type) throws {
            let s = ResidualNet<T>.Shape(inputs: 2, dim: 3, width: 37, depth: 6)
            for optimizer in [Optimizer.adam, .gd] {
                let (a, y) = try Self.net(T.self, CPUBackend(), shape: s, points: 45, activation: .tanh, seed: 5)
                let (b, _) = try Self.net(T.self, gpu, shape: s, points: 45, activation: .tanh, seed: 5)
                let tol = T.precision == .f32 ? 2e-4 : 1e-11
                for k in 0..<5 {
                    let (la, lb) = (ResidualNet<T>.loss(try a.outputs(), y), ResidualNet<T>.loss(try b.outputs(), y))
                    #expect(abs(la - lb) <= tol * la, "\(T.precision) \(optimizer) step \(k): loss CPU \(la), OpenCL \(lb)")
                    try a.step(ParameterRule(optimizer, learningRate: 0.01), labels: y)
                    try b.step(ParameterRule(optimizer, learningRate: 0.01), labels: y)
                }
                let (pa, pb) = (try a.parameters(), try b.parameters())
                var worst = 0.0
                for i in pa.indices { for q in pa[i].indices { worst = max(worst, abs(pa[i][q] - pb[i][q])) } }
                #expect(worst <= 10 * tol, "\(T.precision) \(optimizer): parameters differ by \(worst) after 5 steps")
            }
        }
        if precision == .f32 { try compare(Float.self) } else { try compare(Double.self) }
    }
}
