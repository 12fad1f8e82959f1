import Foundation

/// How wide is wide enough (`widenet sweep --ns N1,N2,… --widths … --seeds S --delta δ`). Du et al.
/// prove the linear rate for m = Ω(n⁶/(λ0⁴δ³)), which the background report calls impractical;
/// this measures it. Every (n, m, seed) is a train run (the data fixed for each n, the seeds vary
/// the initial weights) that holds when the bound held at every step and λ_min(H(k)) ≥ λ0/2 at
/// every step it was computed (every step unless --gram-every says otherwise). m*(n) is the
/// smallest width whose fraction of holding seeds reaches 1 − δ; its log-log slope against n, with
/// a 95 % interval from resampling the seeds, stands beside the theorem's n⁶/λ0(n)⁴ slope.
public enum WideEnoughSweep {
    public static func run(_ base: NTKTrainConfig, ns: [Int], widths: [Int], seeds: Int, delta: Double,
                           control: RunControl = RunControl(), resume: Bool = false,
                           finished: (Int, Int, JSONObject, Double) -> Void = { _, _, _, _ in }) throws -> RunOutcome {
        let widths = try WidthSweep.checkedWidths(widths, base)
        guard ns.count >= 2, ns.allSatisfy({ $0 >= 2 }), Set(ns).count == ns.count else {
            throw BackendError("--ns needs at least two different sample counts of 2 or more (got \(ns))", .usage)
        }
        guard seeds >= 2 else { throw BackendError("--seeds must be at least 2 for a fraction of seeds (got \(seeds))") }
        guard delta > 0 && delta < 1 else { throw BackendError("--delta must lie in (0, 1) (got \(delta))") }
        let ns = ns.sorted()
        var runs = base
        runs.logEvery = 1
        if runs.gramEvery == 0 { runs.gramEvery = 1 }
        var lambda0: [Int: Double] = [:]
        for n in ns {
            var probe = runs
            probe.n = n
            lambda0[n] = try WidthSweep.preflight(probe, largest: widths[widths.count - 1]).lambda0
        }
        var members: [SweepMember] = [], cells: [(n: Int, width: Int, seed: Int)] = []
        for n in ns {
            for width in widths {
                for j in 0..<seeds {
                    cells.append((n, width, j))
                    members.append(SweepMember(name: "n\(n)-width-\(width)-s\(j)") { out, memberControl in
                        var c = runs
                        c.n = n; c.width = width; c.out = out; c.quiet = true
                        c.dataSeed = base.dataSeed ?? base.seed
                        c.seed = base.seed &+ UInt64(j)
                        return try NTKTrainExperiment.run(c, control: memberControl)
                    })
                }
            }
        }
        return try SweepHarness.run(command: "wide-enough", resumeCommand: "sweep", out: base.out, resume: resume, config: {
            var o = base.json(resolved: [("lambda0_by_n", .array(ns.map { .number(lambda0[$0]!) }))])
            o.set("command", "wide-enough")
            o["ns"] = .array(ns.map { .int($0) }); o["widths"] = .array(widths.map { .int($0) })
            o.set("seeds", seeds); o.set("delta", delta)
            for key in ["n", "width", "init_w", "init_a"] { o[key] = nil }
            return o
        }, members: members, memberSummary: TrainSummary.self, control: control, quiet: base.quiet, row: { index, s, _ in
            let cell = cells[index], l0 = lambda0[cell.n]!
            let held = s.boundHolds == true && (s.lambdaMinHLeast ?? -.infinity) >= l0 / 2
            var row = JSONObject()
            row.set("step", index); row.set("n", cell.n); row.set("width", cell.width); row.set("seed", cell.seed)
            row.set("loss", s.finalLoss); row.set("bound_holds", s.boundHolds); row.set("lambda0", l0)
            row.set("lambda_min_h_least", s.lambdaMinHLeast); row.set("held", held)
            return row
        }, summary: { rows, _ in
            // held[n][m][seed]
            var held = [[[Bool]]](repeating: [[Bool]](repeating: [Bool](repeating: false, count: seeds), count: widths.count), count: ns.count)
            for (index, row) in rows.enumerated() {
                let cell = cells[index]
                held[ns.firstIndex(of: cell.n)!][widths.firstIndex(of: cell.width)!][cell.seed] = row["held"] == .bool(true)
            }
            let table = WideEnoughTable(ns: ns, widths: widths, held: held, delta: delta)
            let theory = LinearFit.logLog(x: ns.map(Double.init), y: ns.map { pow(Double($0), 6) / pow(lambda0[$0]!, 4) })?.slope
            var summary = JSONObject()
            summary["ns"] = .array(ns.map { .int($0) }); summary["widths"] = .array(widths.map { .int($0) })
            summary.set("seeds", seeds); summary.set("delta", delta)
            summary["lambda0"] = .array(ns.map { .number(lambda0[$0]!) })
            summary["fractions"] = .array(table.fractions(seedsUsed: Array(0..<seeds)).map { .array($0.map { .number($0) }) })
            summary["m_star"] = .array(table.mStar(seedsUsed: Array(0..<seeds)).map { $0.map { .int($0) } ?? .null })
            summary["fit_m_star_exponent"] = .object(try ConfigCoding.object(table.exponent(seed: base.seed)))
            summary.set("theorem_exponent", theory)
            return summary
        }, finished: finished)
    }
}

/// The fractions of seeds that held, m*(n) and its exponent with a seed-resampling interval.
struct WideEnoughTable {
    let ns: [Int], widths: [Int]
    /// held[n][m][seed]
    let held: [[[Bool]]]
    let delta: Double

    func fractions(seedsUsed: [Int]) -> [[Double]] {
        held.map { byWidth in byWidth.map { bySeed in Double(seedsUsed.filter { bySeed[$0] }.count) / Double(seedsUsed.count) } }
    }

    /// The smallest width whose fraction reaches 1 − δ, per n (nil: none of the widths).
    func mStar(seedsUsed: [Int]) -> [Int?] {
        fractions(seedsUsed: seedsUsed).map { f in f.indices.first { f[$0] >= 1 - delta - 1e-12 }.map { widths[$0] } }
    }

    /// The slope of log m*(n) against log n over the n that have one, and its 95 % percentile
    /// interval over 1000 resamples of the seeds (with replacement, the same draw for every cell).
    func exponent(seed: UInt64) -> FittedValue {
        let seeds = held.first?.first?.count ?? 0
        func slope(_ used: [Int]) -> Double? {
            let pairs = zip(ns, mStar(seedsUsed: used)).compactMap { n, m in m.map { (Double(n), Double($0)) } }
            guard pairs.count >= 2 else { return nil }
            return LinearFit.logLog(x: pairs.map(\.0), y: pairs.map(\.1))?.slope
        }
        let all = mStar(seedsUsed: Array(0..<seeds))
        let points = all.compactMap { $0 }.count
        // The same rules as every fitted rate (SeedBootstrap): enough seeds for an interval, two residual
        // degrees of freedom, and m*(n) measured rather than bounded: at the smallest width it is only an upper bound.
        guard seeds >= SeedBootstrap.minimumSeeds else {
            return .unidentified("\(seeds) seed\(seeds == 1 ? "" : "s"): a fit needs at least \(SeedBootstrap.minimumSeeds) for its interval",
                                 seeds: seeds, points: points, parameters: 2)
        }
        let atSmallest = all.filter { $0 == widths.min() }.count
        guard atSmallest == 0 else {
            return .unidentified("m*(n) is the smallest width (\(widths.min() ?? 0)) for \(atSmallest) of \(ns.count) sample counts: "
                                 + "only an upper bound there; add smaller widths", seeds: seeds, points: points, parameters: 2)
        }
        guard points - 2 >= SeedBootstrap.minimumResidualFreedom else {
            return .unidentified("m*(n) is within the widths for \(points) of \(ns.count) sample counts: a slope with an interval needs "
                                 + "\(2 + SeedBootstrap.minimumResidualFreedom)", seeds: seeds, points: points, parameters: 2)
        }
        guard let value = slope(Array(0..<seeds)) else {
            return .unidentified("m*(n) is within the widths for \(points) of \(ns.count) sample counts; a slope needs two",
                                 seeds: seeds, points: points, parameters: 2)
        }
        let resamples = SeedBootstrap.resamples
        let u: [Double] = PhiloxGenerator(seed: seed).array(count: resamples * seeds, stream: RandomStream.shuffle.rawValue, step: 0x3A5,
                                                            distribution: .uniform, scale: 1.0)
        var draws: [Double] = []
        for b in 0..<resamples {
            if let v = slope((0..<seeds).map { min(Int(u[b * seeds + $0] * Double(seeds)), seeds - 1) }) { draws.append(v) }
        }
        draws.sort()
        guard draws.count >= resamples / 2 else {
            return .unidentified("m*(n) left the widths on \(resamples - draws.count) of \(resamples) resamples of the seeds",
                                 seeds: seeds, points: points, parameters: 2)
        }
        func quantile(_ q: Double) -> Double { draws[min(draws.count - 1, max(0, Int((q * Double(draws.count - 1)).rounded())))] }
        return FittedValue(identified: true, value: value, low: quantile(0.025), high: quantile(0.975), seeds: seeds, points: points,
                           parameters: 2, reason: nil)
    }
}
