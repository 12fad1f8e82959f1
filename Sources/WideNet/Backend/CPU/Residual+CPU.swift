import Foundation

/// CPU reference of resnet.cl: the same formulas, element by element.
extension CPUBackend {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func biasActivation<T: Scalar>(_ z: any DeviceBuffer, bias c: any DeviceBuffer, activations a: any DeviceBuffer, rows: Int, columns m: Int,
                                          activation: Activation, as: T.Type) throws {
        let Z = host(z).pointer(T.self), C = host(c).pointer(T.self), A = host(a).pointer(T.self)
        for p in 0..<rows {
            for j in 0..<m {
                let q = p * m + j, v = Z[q] + C[j]
                Z[q] = v
                switch activation {
                case .tanh: A[q] = T.tanh(v)
                case .relu: A[q] = max(v, 0)
                case .linear: A[q] = v
                }
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func activationBackward<T: Scalar>(_ d: any DeviceBuffer, preactivations z: any DeviceBuffer, activations a: any DeviceBuffer, count: Int,
                                              scale s: T, activation: Activation) throws {
        let D = host(d).pointer(T.self), Z = host(z).pointer(T.self), A = host(a).pointer(T.self)
        for q in 0..<count {
            let slope: T
            switch activation {
            case .tanh: slope = 1 - A[q] * A[q]
            case .relu: slope = Z[q] > 0 ? 1 : 0
            case .linear: slope = 1
            }
            D[q] = s * D[q] * slope
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func axpby<T: Scalar>(_ a: T, _ x: any DeviceBuffer, _ b: T, _ y: any DeviceBuffer, count: Int) throws {
        let X = host(x).pointer(T.self), Y = host(y).pointer(T.self)
        for q in 0..<count { Y[q] = a * X[q] + b * Y[q] }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func parameterStep<T: Scalar>(_ theta: any DeviceBuffer, gradient g: any DeviceBuffer, first: any DeviceBuffer, second: any DeviceBuffer,
                                         count: Int, rule: ParameterRule, as: T.Type) throws {
        let W = host(theta).pointer(T.self), G = host(g).pointer(T.self), M = host(first).pointer(T.self), S = host(second).pointer(T.self)
        let lr = T(rule.learningRate), b1 = T(rule.beta1), b2 = T(rule.beta2), eps = T(rule.epsilon)
        let (c1, c2) = (T(rule.corrections.0), T(rule.corrections.1))
        for q in 0..<count {
            let gq = G[q], u: T
            switch rule.optimizer {
            case .gd: u = gq
            case .momentum:
                u = b1 * M[q] + gq
                M[q] = u
            case .adam:
                let mq = b1 * M[q] + (1 - b1) * gq, sq = b2 * S[q] + (1 - b2) * gq * gq
                M[q] = mq; S[q] = sq
                u = (mq / c1) / ((sq / c2).squareRoot() + eps)
            }
            W[q] = W[q] - lr * u
        }
    }
}
