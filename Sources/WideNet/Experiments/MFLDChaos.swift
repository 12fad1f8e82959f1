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
        let progress = SweepProgress()
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
                    progress.memberRan = true
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
        }, summary: { rows, _ in try summarise(rows, counts: counts, seeds: seeds) }, finished: { done, total, row, seconds in
            // The members run quiet: one line each on standard error, unless the sweep is quiet too.
            // Members a resume read back took no time: the ETA counts those run here.
            if progress.memberRan { progress.ran += 1; progress.seconds += seconds }
            progress.memberRan = false
            guard !base.quiet, ProgressBar.mode != .none else { return }
            let eta = progress.ran > 0 ? progress.seconds / Double(progress.ran) * Double(total - done) : .infinity
            let elapsed = Date().timeIntervalSince(progress.started)
            func time(_ s: Double) -> String { s.isFinite && s < 10 ? String(format: "%.1fs", s) : ProgressBar.duration(s) }
            let loss = row["loss"]?.numeric.map { String(format: "  loss %.4e", $0) } ?? ""
            let line: String
            if ProgressBar.mode == .json {
                var o = JSONObject()
                o.set("progress", "mfld-chaos"); o.set("member", row["member"]?.displayText); o.set("step", done); o.set("total", total)
                o.set("member_seconds", seconds); o.set("elapsed_s", elapsed); o.set("eta_s", done == total ? 0 : eta.isFinite ? eta : nil)
                o.set("text", "N = \(row["particles"]?.displayText ?? "?")\(loss)")
                if done == total { o.set("final", true) }
                line = o.render()
            } else {
                line = "mfld --chaos: member \(done)/\(total) \(row["member"]?.displayText ?? "?") (N = \(row["particles"]?.displayText ?? "?"))"
                    + " done in \(time(seconds))\(loss); elapsed \(time(elapsed)), ETA " + (done == total ? "0s" : time(eta))
            }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        })
    }

    /// The fit of L(N) = L∞ + c·N^(−α) to the seed means, for the loss and for loss + regulariser
    /// (ChaosFit: exponent, coefficient and limit of one fit, each with its seed-bootstrap interval),
    /// and the exponent from successive differences, which needs no L∞.
    static func summarise(_ rows: [JSONObject], counts: [Int], seeds: Int, resamples: Int = SeedBootstrap.resamples) throws -> JSONObject {
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
        let fit = ChaosFit(ns, perSeed, resamples: resamples), fitSum = ChaosFit(ns, perSeedSum, resamples: resamples)
        let difference = differenceExponent(ns, perSeed, resamples: resamples)
        var summary = JSONObject()
        summary.set("particle_counts", ns); summary.set("seeds", seeds)
        summary.set("mean_stationary_loss", loss.means); summary.set("standard_errors", loss.errors)
        summary.set("mean_loss_plus_regulariser", lossReg.means); summary.set("standard_errors_loss_plus_regulariser", lossReg.errors)
        summary.set("mean_final_objective", objectives)
        try fit.write(into: &summary, suffix: "")
        summary["difference_exponent"] = .object(try ConfigCoding.object(difference))
        try fitSum.write(into: &summary, suffix: "_loss_plus_regulariser")
        summary.set("theory_exponent", 1.0)
        return summary
    }

    /// −slope of the log-log line of the successive differences: log|L(N_i) − L(N_{i+1})| against
    /// log √(N_i N_{i+1}) (SeedBootstrap.differenceExponent's line), a line of 2 parameters fitted to
    /// the counts − 1 differences, so it needs 2 residual degrees of freedom: 5 counts. Each seed's
    /// differences are resampled (their mean is the difference of the seed means). Identified only
    /// where the seed means fall at every step, as an excess c·N^−α with c > 0 does: a curve that
    /// rises, or turns (successive differences of both signs), gives a slope of |differences| too,
    /// which means nothing here. A resample whose mean curve is not monotone falling fails.
    static func differenceExponent(_ ns: [Double], _ perSeed: [[Double]], resamples: Int = SeedBootstrap.resamples) -> FittedValue {
        let mids = zip(ns, ns.dropFirst()).map { ($0 * $1).squareRoot() }
        // steps[s][i] = L_s(N_{i+1}) − L_s(N_i): negative at every i where the curve falls.
        let steps = perSeed.map { f in zip(f, f.dropFirst()).map { $1 - $0 } }
        let fitted = SeedBootstrap.fit(x: mids, values: steps, parameters: 2, resamples: resamples) { x, step in
            guard step.count >= 2, step.allSatisfy({ $0 < 0 }) else { return nil }
            return LinearFit.logLog(x: x, y: step.map { -$0 }).map { -$0.slope }
        }
        if !fitted.identified, let reason = fitted.reason, reason.hasPrefix("the fit failed on") {
            var explained = fitted
            explained.reason = reason + ", whose seed means do not fall at every step: the seeds do not pin down a falling curve"
            return explained
        }
        guard !fitted.identified, fitted.reason?.hasPrefix("the fit to the seed means") == true else { return fitted }
        let means = (0..<ns.count).map { i in perSeed.reduce(0.0) { $0 + $1[i] } / Double(perSeed.count) }
        let differences = zip(means, means.dropFirst()).map { $1 - $0 }
        let listed = differences.map { String(format: "%+.3g", $0) }.joined(separator: ", ")
        let reason: String
        if differences.contains(where: { $0 < 0 }) && differences.contains(where: { $0 > 0 }) {
            reason = "the seed means are not monotone in N (successive differences \(listed) change sign): an excess c·N^−α "
                + "falls at every step, and the slope of |differences| of a curve that turns means nothing"
        } else if differences.contains(where: { $0 > 0 }) {
            reason = String(format: "the seed means rise from N = %g to N = %g (%.6g to %.6g): an excess that falls like N^−α has to fall",
                            ns[0], ns[ns.count - 1], means[0], means[means.count - 1])
        } else if differences.contains(where: { $0 == 0 }) {
            reason = "the seed means do not fall at every step (successive differences \(listed)): a zero difference has no logarithm"
        } else {
            reason = "the line through the logarithms of the successive differences (\(listed)) failed"
        }
        return .unidentified(reason, seeds: fitted.seeds, points: fitted.points, parameters: fitted.parameters)
    }
}

/// One least-squares fit of L(N) = L∞ + c·N^(−α) (PowerLawFit, unweighted) to the seed means, with
/// its three parameters, each with the 95 % interval of the same fit over the same resamples of the
/// seeds (SeedBootstrap: ≥ 5 seeds, ≥ 2 residual degrees of freedom). The model is an excess that
/// falls with N: a fit with c ≤ 0 (the curve rising towards L∞) or an exponent on the edge of
/// PowerLawFit.exponentRange contradicts it and is not identified, with the reason.
struct ChaosFit {
    var exponent: FittedValue, coefficient: FittedValue, limit: FittedValue
    /// R² of the fit to the seed means (nil when not identified).
    var r2: Double?

    /// The fit where it has the model's shape: c > 0 and α inside the range.
    static func shaped(_ n: [Double], _ f: [Double]) -> PowerLawFit? {
        guard let fit = PowerLawFit(n: n, f: f), fit.coefficient > 0,
              SeedBootstrap.powerLawExponent(n, f) != nil else { return nil }
        return fit
    }

    init(_ ns: [Double], _ perSeed: [[Double]], resamples: Int = SeedBootstrap.resamples) {
        // The three bootstraps draw the same resamples (one Philox seed): each resample's seed-mean
        // curve is fitted once and its fit read three times.
        var fits: [[Double]: PowerLawFit?] = [:]
        func bootstrap(_ parameter: (PowerLawFit) -> Double) -> FittedValue {
            SeedBootstrap.fit(x: ns, values: perSeed, parameters: 3, resamples: resamples) { n, f in
                if let known = fits[f] { return known.map(parameter) }
                let fit = Self.shaped(n, f)
                fits[f] = fit
                return fit.map(parameter)
            }
        }
        var e = bootstrap(\.exponent), c = bootstrap(\.coefficient), l = bootstrap(\.limit)
        // The three see the same resamples: one identified means all are. A fit to the seed means
        // that failed is explained.
        if !e.identified, e.reason?.hasPrefix("the fit to the seed means") == true, let why = Self.contradiction(ns, perSeed) {
            e.reason = why; c.reason = why; l.reason = why
        } else if !e.identified, let reason = e.reason, reason.hasPrefix("the fit failed on") {
            let why = reason + ", whose fits have c ≤ 0 (rising with N) or the exponent on the edge of its range: the seed means do not pin the model down"
            e.reason = why; c.reason = why; l.reason = why
        }
        exponent = e; coefficient = c; limit = l
        let means = (0..<ns.count).map { i in perSeed.reduce(0.0) { $0 + $1[i] } / Double(max(perSeed.count, 1)) }
        r2 = e.identified ? Self.shaped(ns, means)?.r2 : nil
    }

    /// Why the fit to the seed means does not have the model's shape.
    static func contradiction(_ ns: [Double], _ perSeed: [[Double]]) -> String? {
        let means = (0..<ns.count).map { i in perSeed.reduce(0.0) { $0 + $1[i] } / Double(max(perSeed.count, 1)) }
        guard let fit = PowerLawFit(n: ns, f: means) else { return "the least-squares fit to the seed means failed" }
        if fit.coefficient <= 0 {
            return String(format: "the least-squares fit has c = %.4g ≤ 0 (α = %.3g, L∞ = %.6g): the curve rises with N towards its limit, "
                          + "against the model's excess c·N^−α > 0 that falls as N grows", fit.coefficient, fit.exponent, fit.limit)
        }
        let range = PowerLawFit.exponentRange
        return String(format: "the least-squares exponent %.3g sits on the edge of the searched range [%g, %g]: the data do not pin it down",
                      fit.exponent, range.lowerBound, range.upperBound)
    }

    /// fit_exponent, fit_coefficient, fit_limit and fit_r2, each key with `suffix`.
    func write(into summary: inout JSONObject, suffix: String) throws {
        summary["fit_exponent" + suffix] = .object(try ConfigCoding.object(exponent))
        summary["fit_coefficient" + suffix] = .object(try ConfigCoding.object(coefficient))
        summary["fit_limit" + suffix] = .object(try ConfigCoding.object(limit))
        summary.set("fit_r2" + suffix, r2)
    }
}

/// What the sweep's progress lines count: members run in this process (not read back by a resume)
/// and their seconds.
private final class SweepProgress: @unchecked Sendable {
    let started = Date()
    var memberRan = false, ran = 0, seconds = 0.0
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
}
