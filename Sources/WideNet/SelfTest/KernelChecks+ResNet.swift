import Foundation

/// resnet.cl against the CPU reference: the fused bias-and-activation and its backward for every
/// activation, and parameter_step for every rule, in both precisions, on counts past the fixed grid
/// (256 × 128) and a width that divides nothing; outputs the kernels write start poisoned.
extension KernelChecks {
    static var resnet: [KernelCheck] {
        [
            KernelCheck("resnet_bias_activation, _activation_backward, _axpby f32/f64, every σ") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    for activation in Activation.allCases {
                        for (rows, m) in [(1, 1), (1081, 37)] {
                            if p == .f32 { try residualBlockCheck(Float.self, gpu, cpu, rows: rows, m: m, activation, &r, &rng) }
                            else { try residualBlockCheck(Double.self, gpu, cpu, rows: rows, m: m, activation, &r, &rng) }
                        }
                    }
                }
            },
            KernelCheck("parameter_step gd/momentum/adam f32/f64") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    for optimizer in Optimizer.allCases {
                        for count in [1, 40_003] {
                            if p == .f32 { try parameterStepCheck(Float.self, gpu, cpu, count: count, optimizer, &r, &rng) }
                            else { try parameterStepCheck(Double.self, gpu, cpu, count: count, optimizer, &r, &rng) }
                        }
                    }
                }
            },
        ]
    }

    static func residualBlockCheck<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend, rows: Int, m: Int, _ activation: Activation,
                                              _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let count = rows * m
        let z0: [T] = rng.normals(count, scale: 2), c: [T] = rng.normals(m), d0: [T] = rng.normals(count)
        let s = T(Double.random(in: 0.01...0.5, using: &rng))
        var got: [[[T]]] = []
        for be in [gpu as any Backend, cpu] {
            let z = try CheckBuffers.values(be, z0), a = try CheckBuffers.poisoned(be, count: count, as: T.self)
            try be.biasActivation(z, bias: try CheckBuffers.values(be, c), activations: a, rows: rows, columns: m, activation: activation, as: T.self)
            let d = try CheckBuffers.values(be, d0)
            try be.activationBackward(d, preactivations: z, activations: a, count: count, scale: s, activation: activation)
            let y = try CheckBuffers.values(be, z0)
            try be.axpby(s, d, T(1) - s, y, count: count)
            got.append([try be.download(z, count: count, as: T.self), try be.download(a, count: count, as: T.self),
                        try be.download(d, count: count, as: T.self), try be.download(y, count: count, as: T.self)])
        }
        let eps = Double(T.ulpOfOne)
        // tanh within a few ulp on a device; the bias add is exact-rounded on both.
        r.identical(got[0][0], got[1][0], "resnet_bias_activation \(T.precision) \(activation) \(rows)×\(m): Z")
        r.close(got[0][1], got[1][1], abs: 8 * eps, rel: 8 * eps, "resnet_bias_activation \(T.precision) \(activation) \(rows)×\(m): A")
        r.close(got[0][2], got[1][2], abs: 32 * eps, rel: 16 * eps, "resnet_activation_backward \(T.precision) \(activation) \(rows)×\(m)")
        r.close(got[0][3], got[1][3], abs: 16 * eps, rel: 8 * eps, "resnet_axpby \(T.precision) \(rows)×\(m)")
        let want3 = Double(s) * Double(got[1][2][0]) + (1 - Double(s)) * Double(z0[0])
        r.close([Double(got[1][3][0])], [want3], abs: 8 * eps, rel: 8 * eps, "resnet_axpby CPU: against the formula")
        // The reference against the formula, in f64.
        let q = count - 1, zq = Double(z0[q]) + Double(c[q % m])
        let want = activation == .tanh ? Foundation.tanh(zq) : activation == .relu ? max(zq, 0) : zq
        r.close([Double(got[1][1][q])], [want], abs: 4 * eps, rel: 4 * eps, "resnet_bias_activation CPU \(activation): the last entry")
    }

    static func parameterStepCheck<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend, count: Int, _ optimizer: Optimizer,
                                              _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let theta0: [T] = rng.normals(count), g: [T] = rng.normals(count), m0: [T] = rng.normals(count)
        let s0: [T] = rng.normals(count).map { $0 * $0 }
        let rule = ParameterRule(optimizer, learningRate: 0.05, step: Int.random(in: 1...20, using: &rng))
        var got: [[[T]]] = []
        for be in [gpu as any Backend, cpu] {
            let theta = try CheckBuffers.values(be, theta0), m = try CheckBuffers.values(be, m0), s = try CheckBuffers.values(be, s0)
            try be.parameterStep(theta, gradient: try CheckBuffers.values(be, g), first: m, second: s, count: count, rule: rule, as: T.self)
            got.append([try be.download(theta, count: count, as: T.self), try be.download(m, count: count, as: T.self),
                        try be.download(s, count: count, as: T.self)])
        }
        let eps = Double(T.ulpOfOne)
        for (k, name) in ["θ", "first moment", "second moment"].enumerated() {
            r.close(got[0][k], got[1][k], abs: 16 * eps, rel: 16 * eps, "parameter_step \(T.precision) \(optimizer) \(count): \(name)")
        }
        // The reference against Adam's (or the rule's) formula in f64 at one entry.
        let q = count / 2, (c1, c2) = rule.corrections
        let (th, gq, mq, sq) = (Double(theta0[q]), Double(g[q]), Double(m0[q]), Double(s0[q]))
        let want: Double
        switch optimizer {
        case .gd: want = th - 0.05 * gq
        case .momentum: want = th - 0.05 * (0.9 * mq + gq)
        case .adam:
            let m1 = 0.9 * mq + 0.1 * gq, s1 = 0.999 * sq + 0.001 * gq * gq
            want = th - 0.05 * (m1 / c1) / ((s1 / c2).squareRoot() + 1e-8)
        }
        r.close([Double(got[1][0][q])], [want], abs: 64 * eps, rel: 64 * eps, "parameter_step CPU \(optimizer): against the formula")
    }
}
