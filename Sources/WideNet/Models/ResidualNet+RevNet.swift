import Foundation

/// RevNet blocks (Gomez et al. 2017; Chang et al. 2018 read them as Euler on a coupled system):
/// the state x = (y, z) splits into its first and last D/2 coordinates, and block l moves each half
/// by the block's F_l = V_lσ(U_l · + c_l) of the other alone,
///
///     y_{l+1} = y_l + h P_y F_l((0, z_l)),   z_{l+1} = z_l + h P_z F_l((y_{l+1}, 0)),
///
/// the training form of the depth-limit experiment's coupled field y′ = P_yF((0, z)), z′ = P_zF((y, 0)).
/// The two residual functions of a block are F_l's halves (U_l's z columns with V_l's y rows, and U_l's
/// y columns with V_l's z rows; c_l shared), so the parameter layout is the other schemes'. The
/// projections are D×D GEMMs; each half-step is invertible (z_l = z_{l+1} − hP_zF_l((y_{l+1}, 0)),
/// then y_l), the property `reconstructedStates` measures.
extension ResidualNet {
    /// One RevNet block on batch b: states[l] → tilde[l] (after the y half-step) → states[l + 1];
    /// Z_l, A_l at (0, z_l) and Z₂, A₂ at (y_{l+1}, 0).
    func revnetBlock(_ l: Int, _ b: Batch) throws {
        let s = shape, P = b.points, bytes = P * s.dim * MemoryLayout<T>.stride
        let (u, c, v) = (theta[index(l, 0)], theta[index(l, 1)], theta[index(l, 2)])
        let (py, pz) = (projections[0], projections[1]), (projected, step) = (b.scratch[0], b.scratch[1])
        /// to ← from + h·P F((input)·Q) for the half-step's projections Q (input) and P (output).
        func halfStep(_ from: any DeviceBuffer, _ q: any DeviceBuffer, _ p: any DeviceBuffer, into to: any DeviceBuffer,
                      z: any DeviceBuffer, a: any DeviceBuffer) throws {
            try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.dim), from, q, projected, alpha: T(1), beta: T(0))
            try backend.gemm(GEMMShape(transB: true, m: P, n: s.width, k: s.dim), projected, u, z, alpha: T(1), beta: T(0))
            try backend.biasActivation(z, bias: c, activations: a, rows: P, columns: s.width, activation: activation, as: T.self)
            try backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.width), a, v, step, alpha: T(1), beta: T(0))
            try backend.copy(from, to: to, bytes: bytes)
            try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.dim), step, p, to, alpha: T(h), beta: T(1))
        }
        try halfStep(b.states[l], pz, py, into: b.tilde[l], z: b.z[l], a: b.a[l])
        try halfStep(b.tilde[l], py, pz, into: b.states[l + 1], z: b.z2[l], a: b.a2[l])
    }

    /// RevNet's backward pass, with G = g_{l+1}: through the z half-step, G_z = GP_z gives Euler's block
    /// gradients at Z₂, A₂ with input x̃P_y, and G ← G + (δ₂U)P_y (the gradient at x̃); through the y
    /// half-step, G_y = GP_y gives them at Z, A with input x_lP_z (added), and g_l = G + (δ₁U)P_z.
    func backwardRevNet() throws {
        let s = shape, P = train.points, b = train
        guard let half = gNext, let work = gPrevious else { preconditionFailure("revnet buffers missing") }
        let (py, pz) = (projections[0], projections[1])
        for l in stride(from: s.depth - 1, through: 0, by: -1) {
            let u = theta[index(l, 0)]
            for (second, input, inputProjection, outputProjection) in [(true, b.tilde[l], py, pz), (false, b.states[l], pz, py)] {
                try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.dim), g, outputProjection, half, alpha: T(1), beta: T(0))
                try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.dim), input, inputProjection, work, alpha: T(1), beta: T(0))
                try blockGradients(l, from: half, at: work, second: second, accumulate: !second)
                try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.width), delta, u, work, alpha: T(1), beta: T(0))
                try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.dim), work, inputProjection, g, alpha: T(1), beta: T(1))
            }
        }
        try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.inputs, k: P), g, b.x, grad[0], alpha: T(1), beta: T(0))
    }

    /// The states x_L … x_0 of a batch rebuilt from its last state alone by inverting each block on the
    /// host in f64 (z_l = z_{l+1} − hP_zF_l((y_{l+1}, 0)), then y_l = y_{l+1} − hP_yF_l((0, z_l))), after a
    /// forward pass; returned in the order of `states(of:)`. RevNet's memory saving rests on this
    /// being exact to rounding, which the run reports as the largest difference from the stored states.
    func reconstructedStates(of b: Batch) throws -> [Double] {
        precondition(shape.revnet, "only revnet blocks are invertible this way")
        let s = shape, P = b.points, D = s.dim, half = D / 2, m = s.width
        let params = try parameters()
        var x = try backend.download(b.states[s.depth], count: P * D, as: T.self).map(Double.init)
        var out = [[Double]](repeating: [], count: s.depth + 1)
        out[s.depth] = x
        for l in stride(from: s.depth - 1, through: 0, by: -1) {
            let (u, c, v) = (params[index(l, 0)], params[index(l, 1)], params[index(l, 2)])
            // Subtracts h·F((inputs of `from` only), rows `to` only) from the coordinates `to` of x.
            func undo(from: Range<Int>, to: Range<Int>) {
                for p in 0..<P {
                    var hidden = [Double](repeating: 0, count: m)
                    for j in 0..<m {
                        var t = c[j]
                        for k in from { t += u[j * D + k] * x[p * D + k] }
                        hidden[j] = activation.value(t)
                    }
                    for k in to {
                        var t = 0.0
                        for j in 0..<m { t += v[k * m + j] * hidden[j] }
                        x[p * D + k] -= h * t
                    }
                }
            }
            undo(from: 0..<half, to: half..<D)
            undo(from: half..<D, to: 0..<half)
            out[l] = x
        }
        return out.flatMap { $0 }
    }
}
