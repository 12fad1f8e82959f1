import Foundation

/// `widenet sweep --optimizer sgd --seeds S`: one SGD experiment of `widenet train` run with S seeds
/// (the stream and the initial weights vary, the target and its test set stay), each into
/// `<out>/seed-<j>/`, and the decay rates of the last and the averaged iterate's test error fitted to
/// the seed-mean curves with 95 % intervals over resamples of the seeds (SeedBootstrap): the
/// interval that includes the trajectories' own randomness, which one run's fold interval cannot.
public enum SGDRateSweep {
    public static func run(_ base: NTKTrainConfig, seeds: Int, control: RunControl = RunControl(), resume: Bool = false,
                           finished: (Int, Int, JSONObject, Double) -> Void = { _, _, _, _ in }) throws -> RunOutcome {
        guard seeds >= 1 else { throw BackendError("--seeds must be at least 1 (got \(seeds))") }
        try SGDSetup.validate(base)
        var probe = base
        if probe.stream == true, probe.dataset == nil { probe.dataset = .harmonic }
        guard probe.dataset == .harmonic else {
            throw BackendError("a sweep of SGD's rates needs a target function: --dataset harmonic (or --stream)", .usage)
        }
        // Every member's checks, once, before anything is written.
        let inputs = try TrainInputs.load(probe)
        let backend = try BackendSelection.make(kind: base.backend, device: base.device, precision: base.precision).backend
        _ = try SGDSetup(probe, inputs, backend, [])
        let members = (0..<seeds).map { j in
            SweepMember(name: "seed-\(j)") { out, memberControl in
                var c = probe
                c.out = out; c.quiet = true
                c.dataSeed = base.dataSeed ?? base.seed
                c.seed = base.seed &+ UInt64(j)
                return try NTKTrainExperiment.run(c, control: memberControl)
            }
        }
        return try SweepHarness.run(command: "sgd-rates", resumeCommand: "sweep", out: base.out, resume: resume, config: {
            var c = probe.json(resolved: [("backend", .string(backend.info.kind)), ("device", .string(backend.info.deviceName)),
                                          ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null)])
            c.set("seeds", seeds)
            return c
        }, members: members, memberSummary: SGDSummary.self, control: control, quiet: base.quiet, row: { index, s, times in
            var row = JSONObject()
            row.set("step", s.steps); row.set("loss", s.finalLoss); row.set("seed", Int(truncatingIfNeeded: base.seed &+ UInt64(index)))
            row.set("samples_seen", s.samplesSeen)
            row.set("final_test_error", s.finalTestError); row.set("final_test_error_average", s.finalTestErrorAverage)
            row.set("rate_last", s.rateLast?.value); row.set("rate_average", s.rateAverage?.value)
            row.set("steps_per_second", times.stepsPerSecond)
            return row
        }, summary: { _, memberSummaries in
            let all = try memberSummaries.map { try ConfigCoding.decode(SGDSummary.self, from: $0, shown: "a member's summary.json") }
            var summary = JSONObject()
            summary.set("backend", backend.info.kind); summary.set("device", backend.info.deviceName)
            summary.set("seeds", seeds); summary.set("steps", base.steps); summary.set("batch", base.batch ?? 1)
            guard let first = all.first, let t = first.curveSamples, let window = first.rateWindow else { return summary }
            summary.set("samples_seen", first.samplesSeen)
            summary["rate_window"] = .array(window.map { .int($0) })
            let kept = t.indices.filter { t[$0] >= Double(max(window[0], 1)) && t[$0] > Double((first.averageFrom ?? 0) * first.batch) }
            func curves(_ pick: (SGDSummary) -> [Double?]?) -> [[Double]] {
                all.map { s in kept.map { i in (pick(s)?[i] ?? nil) ?? .nan } }
            }
            let x = kept.map { t[$0] }
            for (name, values) in [("rate_last", curves { $0.curveLast.map { $0.map(Optional.some) } }), ("rate_average", curves(\.curveAverage))] {
                summary[name] = .object(try ConfigCoding.object(
                    SeedBootstrap.fit(x: x, values: values, parameters: 2, seed: base.seed) { x, y in LinearFit.logLog(x: x, y: y).map { -$0.slope } }))
            }
            // The seed-mean curves, for the report and for plotting.
            summary["curve_samples"] = .array(t.map { .number($0) })
            for (name, pick) in [("curve_test_error", { (s: SGDSummary) in s.curveLast.map { $0.map(Optional.some) } }),
                                 ("curve_test_error_average", { (s: SGDSummary) in s.curveAverage })] {
                summary[name] = .array(t.indices.map { i in
                    let v = all.compactMap { (pick($0)?[i] ?? nil) }
                    return v.count == all.count ? .number(v.reduce(0, +) / Double(v.count)) : .null
                })
            }
            summary.set("capacity", first.capacity); summary.set("source", first.source); summary.set("noise", first.noise)
            summary.set("rate_theory_average", first.rateTheoryAverage); summary.set("rate_optimal", first.rateOptimal)
            summary.set("rate_theory_last", first.rateTheoryLast)
            return summary
        }, finished: finished)
    }
}
