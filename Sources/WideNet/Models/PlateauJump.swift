import Foundation

/// One plateau jump of `widenet saddle --skip-plateaus`.
public struct PlateauJump: Sendable {
    /// τ: the GD steps of the linearised dynamics the jump stands for.
    public let stepsReplaced: Double
    public let lossBefore: Double, lossAfter: Double
    /// −λ_min of the loss's Hessian where the jump started: its fastest unstable direction grows by
    /// 1 + η·topRate per GD step.
    public let topRate: Double
}

extension TwoLayerNet {
    /// Plateau skipping (Arata; ARCHITECTURE.md §1.3). Near a saddle GD is its own linearisation
    /// (LinearisedGD): τ steps grow every direction of negative curvature by (1 + η|λ|) per step (the
    /// unstable units of the plateau, coupled through the residual, so that at later saddles the
    /// already-learned units take part) and settle the stable ones. The jump makes those τ steps at
    /// once, τ the whole number of steps at which the true loss along the path has its first minimum
    /// after it has begun to fall: the scale at which the plateau's unstable mode has been learned, one
    /// stage of the staircase. Returns nil when the point is not on a plateau: no direction of negative
    /// curvature, none that the jump would grow by at least a factor 10 first, or no fall of the loss.
    func jumpAlongLinearisedGD(learningRate lr: Double, gradient g: (w1: [Double], w2: [Double])) throws -> PlateauJump? {
        let before = try forward()
        let map = try linearisedGD(learningRate: lr, gradient: g)
        let space = map.space
        guard space.dimension > 0 else { return nil }
        let unstable = map.unstable
        guard let topIndex = unstable.min(by: { space.values[$0] < space.values[$1] }) else { return nil }
        let top = -space.values[topIndex]
        let weights = w1 + w2
        func lossAfter(_ tau: Double) throws -> Double {
            let e = map.displacement(after: tau)
            var trial = weights
            for q in trial.indices { trial[q] += e[q] }
            let l = try loss(w1: Array(trial[0..<(m * d)]), w2: Array(trial[(m * d)...]))
            return l.isFinite ? l : .infinity
        }

        // The search ends where the first unstable component would reach a radius well past any
        // learned unit's (a balanced unit of a mode with rate s has ‖w‖² ≈ 2s): the loss is lowest before.
        let radius = (10 * (top + weights.reduce(0) { $0 + $1 * $1 })).squareRoot()
        let tauMax = unstable.map { i -> Double in
            let rate = -space.values[i]
            return Foundation.log1p(radius * rate / abs(space.coefficients[i])) / Foundation.log1p(lr * rate)
        }.min() ?? 0
        guard tauMax >= 2 else { return nil }
        let grid = 64
        var taus: [Double] = []
        for j in 1...grid {
            let tau = (tauMax * Double(j) / Double(grid)).rounded()
            if tau >= 1, tau != taus.last { taus.append(tau) }
        }
        // The first minimum along the path after the loss has fallen: the next stage of the staircase, not
        // two stages at once where a second mode would arrive soon after the first.
        var losses: [Double] = []
        for tau in taus { losses.append(try lossAfter(tau)) }
        guard let lowest = losses.indices.min(by: { losses[$0] < losses[$1] }), losses[lowest] < before else { return nil }
        let bestIndex = losses.indices.first { j in
            losses[j] < before * (1 - 1e-3) && (j + 1 == losses.count || losses[j + 1] > losses[j])
        } ?? lowest
        var best = (tau: taus[bestIndex], loss: losses[bestIndex])
        // Golden-section refinement between the best grid point's neighbours, then the best whole step.
        var lo = bestIndex > 0 ? taus[bestIndex - 1] : 0, hi = bestIndex + 1 < taus.count ? taus[bestIndex + 1] : tauMax
        if hi - lo > 2 {
            let ratio = (5.0.squareRoot() - 1) / 2
            var p = hi - ratio * (hi - lo), q = lo + ratio * (hi - lo)
            var lp = try lossAfter(p), lq = try lossAfter(q)
            for _ in 0..<24 where hi - lo > 0.5 {
                if lp < lq { hi = q; q = p; lq = lp; p = hi - ratio * (hi - lo); lp = try lossAfter(p) }
                else { lo = p; p = q; lp = lq; q = lo + ratio * (hi - lo); lq = try lossAfter(q) }
            }
            let centre = lp < lq ? p : q
            for tau in Set([centre.rounded(.down), centre.rounded(.up)]).sorted() where tau >= 1 && tau != best.tau {
                let l = try lossAfter(tau)
                if l < best.loss { best = (tau, l) }
            }
        }
        // A plateau is where the unstable mode has a long way to grow: a jump the GD steps would make
        // in a moment is no skip.
        guard best.tau >= 2, best.tau * Foundation.log1p(lr * top) >= Foundation.log(10), best.loss <= before * (1 - 1e-6) else { return nil }
        let e = map.displacement(after: best.tau)
        for q in 0..<(m * d) { w1[q] += e[q] }
        for q in 0..<(k * m) { w2[q] += e[m * d + q] }
        let after = try forward()
        return PlateauJump(stepsReplaced: best.tau, lossBefore: before, lossAfter: after, topRate: top)
    }
}
