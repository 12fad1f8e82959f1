import Foundation

/// One plateau jump of `widenet saddle --skip-plateaus`.
public struct PlateauJump: Sendable {
    /// τ: the GD steps of the linearised dynamics the jump stands for.
    public let stepsReplaced: Double
    public let lossBefore: Double, lossAfter: Double
    /// The largest growth rate s of the units' update matrices (a unit grows by 1 + ηs per step).
    public let topRate: Double
}

extension TwoLayerNet {
    /// Plateau skipping (Arata; ARCHITECTURE.md §1.3). Near a saddle, GD moves unit r = (w1_r, w2_r) by the
    /// unit-wise update matrix [[I, −ηM_r], [−ηM_rᵀ, I]] with M_r = Xᵀ D_r E (d×k), D_r = diag σ′(X w1_r)
    /// and E = (F − Y)/n. Its top eigenvector is (u_r, −v_r)/√2 for the top singular triple
    /// M_r v_r = s_r u_r, with eigenvalue 1 + ηs_r: in τ steps the unit's component c_r along it grows by
    /// (1 + ηs_r)^τ while the loss hardly moves, which is the plateau. The jump applies that growth at
    /// once, with τ chosen by a line search for the lowest loss along the path (the scale at which the
    /// loss has fallen), and returns nil when no τ lowers the loss.
    public func jumpAlongTopDirections(learningRate lr: Double) throws -> PlateauJump? {
        let before = try forward()
        let e = outputError
        let (z, h) = (self.z, self.h)
        let inv = 1 / 2.0.squareRoot()
        var rates = [Double](repeating: 0, count: m), comps = rates
        var us = [[Double]](repeating: [], count: m), vs = us
        var shared: (s: Double, u: [Double], v: [Double])? = nil
        for r in 0..<m {
            let mode: (s: Double, u: [Double], v: [Double])
            if activation == .linear, let shared { mode = shared } else {
                var de = e
                if activation != .linear {
                    for i in 0..<n {
                        let dz = activation.derivative(z[i * m + r], h[i * m + r])
                        for a in 0..<k { de[i * k + a] *= dz }
                    }
                }
                var mr = [Double](repeating: 0, count: d * k)
                try products.gemm(GEMMShape(transA: true, m: d, n: k, k: n), x, de, into: &mr)
                mode = Self.topSingularTriple(mr, rows: d, cols: k)
                if activation == .linear { shared = mode }
            }
            rates[r] = mode.s; us[r] = mode.u; vs[r] = mode.v
            var c = 0.0
            for b in 0..<d { c += w1[r * d + b] * mode.u[b] }
            for a in 0..<k { c -= w2[a * m + r] * mode.v[a] }
            comps[r] = c * inv
        }
        // The linearised growth holds for a component far below the scale of its mode: a unit that
        // has already learned along its own direction (a nonlinear net's recruited unit) stays put.
        let growing = (0..<m).filter { rates[$0] > 0 && comps[$0] * comps[$0] / 2 < 1e-2 * rates[$0] }
        guard let top = growing.map({ rates[$0] }).max() else { return nil }
        let strength = growing.reduce(0) { $0 + comps[$1] * comps[$1] } / 2
        guard strength > 0, strength.isFinite else { return nil }
        let logRate = rates.map { Foundation.log1p(lr * $0) }

        func weights(after tau: Double) -> ([Double], [Double]) {
            var a = w1, b = w2
            for r in growing {
                let delta = comps[r] * Foundation.expm1(tau * logRate[r]) * inv
                for q in 0..<d { a[r * d + q] += delta * us[r][q] }
                for q in 0..<k { b[q * m + r] -= delta * vs[r][q] }
            }
            return (a, b)
        }
        func lossAfter(_ tau: Double) throws -> Double {
            let (a, b) = weights(after: tau)
            let l = try loss(w1: a, w2: b)
            return l.isFinite ? l : .infinity
        }
        // The fastest mode's strength Σc²/2 reaches 10·s at τmax: the loss has its minimum well before.
        let tauMax = max(0, 0.5 * Foundation.log(10 * top / strength) / Foundation.log1p(lr * top))
        guard tauMax > 0 else { return nil }
        let grid = 16
        var best = (tau: 0.0, loss: before)
        var values = [Double](repeating: 0, count: grid + 1)
        for j in 1...grid {
            let tau = tauMax * Double(j) / Double(grid)
            values[j] = try lossAfter(tau)
            if values[j] < best.loss { best = (tau, values[j]) }
        }
        guard best.tau > 0 else { return nil }
        // Golden-section refinement between the best grid point's neighbours.
        var lo = max(0, best.tau - tauMax / Double(grid)), hi = min(tauMax, best.tau + tauMax / Double(grid))
        let phi = (5.0.squareRoot() - 1) / 2
        var p = hi - phi * (hi - lo), q = lo + phi * (hi - lo)
        var lp = try lossAfter(p), lq = try lossAfter(q)
        for _ in 0..<16 {
            if lp < lq { hi = q; q = p; lq = lp; p = hi - phi * (hi - lo); lp = try lossAfter(p) }
            else { lo = p; p = q; lp = lq; q = lo + phi * (hi - lo); lq = try lossAfter(q) }
        }
        if min(lp, lq) < best.loss { best = lp < lq ? (p, lp) : (q, lq) }
        (w1, w2) = weights(after: best.tau)
        let after = try forward()
        return PlateauJump(stepsReplaced: best.tau, lossBefore: before, lossAfter: after, topRate: top)
    }

    /// The top singular triple M v = s u of a rows×cols matrix (row-major), by power iteration on MᵀM
    /// from a fixed start, so that a run is reproducible.
    static func topSingularTriple(_ a: [Double], rows: Int, cols: Int) -> (s: Double, u: [Double], v: [Double]) {
        var v = (0..<cols).map { 1 + 0.1 * Double($0 % 7) }
        var u = [Double](repeating: 0, count: rows)
        var s = 0.0
        for _ in 0..<300 {
            for i in 0..<rows { var acc = 0.0; for j in 0..<cols { acc += a[i * cols + j] * v[j] }; u[i] = acc }
            let un = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard un > 0 else { return (0, u, v) }
            for i in 0..<rows { u[i] /= un }
            for j in 0..<cols { var acc = 0.0; for i in 0..<rows { acc += a[i * cols + j] * u[i] }; v[j] = acc }
            s = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard s > 0 else { return (0, u, v) }
            for j in 0..<cols { v[j] /= s }
        }
        return (s, u, v)
    }
}
