import Foundation

/// `widenet mfld --chaos N1,N2,…`: the same problem (one data set) at several particle counts and
/// seeds. Propagation of chaos says the stationary objective exceeds its N → ∞ value by O(1/N); the
/// sweep fits L(N) = L∞ + c·N^(−α) to the stationary loss (the data term of the objective, where
/// the 1/N excess lives) and reports α. The regulariser λ'E‖θ‖² moves the other way by about as much
/// at small N, so loss + regulariser is fitted and reported too, but its excess is mostly noise.
public enum MFLDChaos {
    /// Every (count, seed) a member run `N<count>-s<seed>` (SweepHarness); `resume` continues the
    /// sweep in `base.out`.
    public static func run(_ base: MFLDConfig, counts: [Int], seeds: Int, control: RunControl = RunControl(),
                           resume: Bool = false) throws -> RunOutcome {
        guard counts.count >= 3 else { throw BackendError("--chaos needs at least 3 particle counts to fit F∞ + c·N^−α") }
        guard seeds >= 1 else { throw BackendError("--chaos-seeds must be at least 1") }
        try base.validate()
        var members: [SweepMember] = []
        for count in counts {
            for s in 0..<seeds {
                members.append(SweepMember(name: "N\(count)-s\(s)") { out, memberControl in
                    var cfg = base
                    cfg.particles = count
                    // One data set for the whole sweep; seeds vary the particles and the noise only.
                    cfg.dataSeed = base.dataSeed ?? base.seed
                    cfg.seed = base.seed &+ UInt64(s)
                    cfg.out = out
                    cfg.quiet = true
                    return try MFLDExperiment.run(cfg, control: memberControl)
                })
            }
        }
        return try SweepHarness.run(command: "mfld-chaos", resumeCommand: "mfld", out: base.out, resume: resume, config: {
            var config = base.json(resolved: [("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null)])
            config.set("chaos", counts.map(Double.init)); config.set("chaos_seeds", seeds)
            return config
        }, members: members, memberSummary: MFLDSummary.self, control: control, quiet: base.quiet, row: { index, s, _ in
            var row = JSONObject()
            row.set("step", base.steps); row.set("particles", counts[index / seeds])
            row.set("seed", Int(truncatingIfNeeded: base.seed &+ UInt64(index % seeds)))
            row.set("loss", s.tailLoss)
            row.set("tail_loss_plus_regulariser", s.tailLossPlusRegulariser)
            row.set("final_objective", s.finalObjective)
            return row
        }, summary: { rows, _ in try summarise(rows, counts: counts, seeds: seeds) })
    }

    /// The fit of L(N) = L∞ + c·N^(−α) to the seed means, with the exponent's seed-bootstrap interval
    /// (SeedBootstrap: identified only with ≥ 5 seeds and ≥ 2 residual degrees of freedom), and the
    /// exponent from successive differences, which needs no L∞.
    static func summarise(_ rows: [JSONObject], counts: [Int], seeds: Int) throws -> JSONObject {
        var loss = Stats(), lossReg = Stats(), objectives: [Double] = []
        // values[s][i]: seed s at count i.
        var perSeed = [[Double]](repeating: [], count: seeds), perSeedSum = perSeed
        for count in counts {
            let mine = rows.filter { $0["particles"]?.numeric == Double(count) }
            let l = mine.compactMap { $0["loss"]?.numeric }, lr = mine.compactMap { $0["tail_loss_plus_regulariser"]?.numeric }
            loss.add(l); lossReg.add(lr)
            for s in 0..<seeds { perSeed[s].append(s < l.count ? l[s] : .nan); perSeedSum[s].append(s < lr.count ? lr[s] : .nan) }
            let objs = mine.compactMap { $0["final_objective"]?.numeric }
            objectives.append(objs.isEmpty ? .nan : objs.reduce(0, +) / Double(objs.count))
        }
        let ns = counts.map(Double.init)
        let exponent = SeedBootstrap.fit(x: ns, values: perSeed, parameters: 3, statistic: SeedBootstrap.powerLawExponent)
        let difference = SeedBootstrap.fit(x: ns, values: perSeed, parameters: 3, statistic: SeedBootstrap.differenceExponent)
        let exponentSum = SeedBootstrap.fit(x: ns, values: perSeedSum, parameters: 3, statistic: SeedBootstrap.powerLawExponent)
        let fit = exponent.identified ? loss.fit(ns) : nil
        var summary = JSONObject()
        summary.set("particle_counts", ns); summary.set("seeds", seeds)
        summary.set("mean_stationary_loss", loss.means); summary.set("standard_errors", loss.errors)
        summary.set("mean_loss_plus_regulariser", lossReg.means); summary.set("standard_errors_loss_plus_regulariser", lossReg.errors)
        summary.set("mean_final_objective", objectives)
        summary["fit_exponent"] = .object(try ConfigCoding.object(exponent))
        summary.set("fit_limit", fit?.limit); summary.set("fit_coefficient", fit?.coefficient); summary.set("fit_r2", fit?.r2)
        summary["difference_exponent"] = .object(try ConfigCoding.object(difference))
        summary["fit_exponent_loss_plus_regulariser"] = .object(try ConfigCoding.object(exponentSum))
        summary.set("theory_exponent", 1.0)
        return summary
    }
}

/// Means and standard errors over seeds, per particle count.
struct Stats {
    var means: [Double] = [], errors: [Double] = []

    mutating func add(_ values: [Double]) {
        let k = Double(max(values.count, 1))
        let mean = values.reduce(0, +) / k
        let sd = values.count > 1 ? (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (k - 1)).squareRoot() : 0
        means.append(mean)
        errors.append(sd / k.squareRoot())
    }

    func fit(_ ns: [Double]) -> PowerLawFit? {
        PowerLawFit(n: ns, f: means, sigma: errors.allSatisfy { $0 > 0 } ? errors : nil)
    }
}
