import Foundation

/// `widenet resnet --experiment train --depths 4,8,…`: the same training (task, seed, steps,
/// optimiser) at each depth L with h = T/L, each a member run `depth-L/`. Every net starts at the
/// same smooth θ(t) sampled at its own t_l, so as L grows the trained maps should reach a depth
/// limit: the sweep measures the RMS difference of the learned outputs on the first test points
/// between successive depths of the list, ‖f_L − f_next‖, and fits its order in h (forward Euler: 1)
/// with its 95 % Student-t interval (not identified with fewer than 4 gaps, 5 depths), beside the final losses.
public enum ResNetDepthSweep {
    /// The member summary fields the rows use.
    struct MemberSummary: Decodable {
        var depth: Int, h: Double
        var finalLoss: Double?, finalTestLoss: Double?, finalTestAccuracy: Double?, lipschitzMax: Double?
        var probeOutputs: [Double]?
        enum CodingKeys: String, CodingKey {
            case depth, h, finalLoss = "final_loss", finalTestLoss = "final_test_loss", finalTestAccuracy = "final_test_accuracy"
            case lipschitzMax = "lipschitz_max", probeOutputs = "probe_outputs"
        }
    }

    public static func run(_ cfg: ResNetTrain.Config, depths: [Int], control: RunControl, resume: Bool) throws -> RunOutcome {
        guard depths.count >= 2 else { throw BackendError("--depths needs at least two depths for a sweep") }
        guard cfg.testSize >= 1 else { throw BackendError("a depth sweep compares the learned maps on the test points: --test-size must be at least 1") }
        // The deepest member's memory, before the sweep's directory exists (each member checks its own again).
        var deepest = cfg
        deepest.depth = depths.max() ?? cfg.depth
        try deepest.validate()
        let choice = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
        if let sizes = ResNetTrain.syntheticSizes(deepest) {
            try ResNetTrain.preflight(deepest, sizes: sizes, backend: choice.backend.info)
        } else {
            let data = try ResNetTrain.inputs(deepest)
            try ResNetTrain.preflight(deepest, sizes: (data.d, data.n, data.testN), backend: choice.backend.info)
        }
        let members = depths.map { L in
            SweepMember(name: "depth-\(L)") { out, control in
                var c = cfg
                c.depth = L; c.out = out; c.quiet = true
                return try ResNetTrain.run(c, control: control)
            }
        }
        let horizon = cfg.horizon
        var probes: [[Double]] = []
        return try SweepHarness.run(
            command: "resnet", resumeCommand: "resnet", out: cfg.out, resume: resume,
            config: {
                var o = RecordedConfig.json(command: "resnet", options: cfg, resolved: [("experiment", .string("train")),
                                                                                      ("sweep", .string("depth")),
                    ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null)])
                o.set("depths", depths.map(Double.init))
                return o
            },
            members: members, memberSummary: MemberSummary.self, control: control, quiet: cfg.quiet,
            row: { index, s, times in
                probes.append(s.probeOutputs ?? [])
                var row = JSONObject()
                row.set("step", index); row.set("depth", s.depth); row.set("h", s.h)
                if let v = s.finalLoss { row.set("loss", v) }
                if let v = s.finalTestLoss { row.set("test_loss", v) }
                if let v = s.finalTestAccuracy { row.set("test_accuracy", v) }
                if let v = s.lipschitzMax { row.set("lipschitz_max", v) }
                row.set("seconds", times.wallSeconds)
                return row
            },
            summary: { rows, _ in
                var s = JSONObject()
                s.set("experiment", "train"); s.set("sweep", "depth")
                s.set("depths", depths.map(Double.init))
                s.set("final_losses", rows.map { $0["loss"]?.numeric ?? .nan })
                s.set("final_test_losses", rows.map { $0["test_loss"]?.numeric ?? .nan })
                // ‖f_L − f_next‖ over the probes, against h of L.
                var h: [Double] = [], gaps: [Double] = []
                for i in 0..<(depths.count - 1) where probes[i].count == probes[i + 1].count && !probes[i].isEmpty {
                    let d = zip(probes[i], probes[i + 1]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(probes[i].count)
                    h.append(horizon / Double(depths[i])); gaps.append(d.squareRoot())
                }
                s.set("map_gap_h", h); s.set("map_gaps", gaps)
                // The order with its 95 % Student-t interval; not identified (with the reason) below 4 gaps.
                s["map_gap_order"] = .object(try ConfigCoding.object(ConvergenceOrder(h: h, error: gaps, noun: "gaps")))
                return s
            }, announce: true)
    }
}
