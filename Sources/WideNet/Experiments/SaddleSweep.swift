import Foundation

/// `widenet saddle --init-scales 1e-1,…,1e-8`: the same problem from several initial scales σ0. The
/// time to leave the saddle at the origin grows like log(1/σ0) (Arata); the sweep fits the
/// first plateau's length, and the step at which each rank is reached, against log(1/σ0). With
/// --skip-plateaus every scale also runs with plateau skipping, and the two are compared.
public enum SaddleSweep {
    /// Each scale a member `sigma<σ0>` (and `sigma<σ0>-skip`), through SweepHarness; `resume`
    /// continues the sweep in `base.out`.
    public static func run(_ base: SaddleExperiment.Config, scales: [Double], control: RunControl = RunControl(),
                           resume: Bool = false) throws -> RunOutcome {
        guard scales.count >= 2, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw BackendError("--init-scales needs at least two positive scales")
        }
        // Every member's checks, made before the sweep's directory exists.
        _ = try SaddleExperiment.prepare(base)
        let variants = base.skipPlateaus ? [false, true] : [false]
        var members: [SweepMember] = [], plan: [(scale: Double, skip: Bool)] = []
        for scale in scales {
            for skip in variants {
                plan.append((scale, skip))
                members.append(SweepMember(name: String(format: "sigma%.0e", scale) + (skip ? "-skip" : "")) { out, memberControl in
                    var c = base
                    c.initScale = scale; c.skipPlateaus = skip; c.quiet = true; c.out = out
                    return try SaddleExperiment.run(c, control: memberControl)
                })
            }
        }
        return try SweepHarness.run(command: "saddle-sweep", resumeCommand: "saddle", out: base.out, resume: resume, config: {
            var config = JSONObject()
            config.set("command", "saddle"); config.set("version", widenetVersion)
            for (key, value) in try ConfigCoding.object(base).pairs { config[key] = value }
            config.set("init_scales", scales)
            var resolved = JSONObject()
            resolved.set("checkpoint_every", control.checkpointEvery)
            config["resolved"] = .object(resolved)
            return config
        }, members: members, memberSummary: SaddleSummary.self, control: control, quiet: base.quiet, row: { index, s, _ in
            var row = JSONObject()
            row.set("step", base.steps); row.set("loss", s.finalLoss)
            row.set("init_scale", plan[index].scale); row.set("skip_plateaus", plan[index].skip)
            row.set("rank_reached_at", s.rankReachedAt); row.set("final_rank", s.finalRank)
            row.set("steps_to_target", s.stepsToTarget); row.set("seconds_to_target", s.secondsToTarget)
            row.set("drop_count", s.dropCount); row.set("jump_count", s.jumpCount)
            return row
        }, summary: { rows, members in
            var summary = summarise(rows, scales: scales, skipping: base.skipPlateaus)
            // Discrete GD grows the top mode by (1 + ηs₁) a step: ln(1/σ0)/ln(1 + ηs₁) steps to escape.
            if let s1 = members.first?["teacher_singular_values"]?.numbers.first {
                summary.set("theory_steps_per_log_inverse_scale", 1 / Foundation.log1p(base.learningRate * s1))
            }
            return summary
        })
    }

    public static func rows(_ rows: [JSONObject], skipping: Bool) -> [JSONObject] {
        rows.filter { ($0["skip_plateaus"] == .bool(true)) == skipping }
    }

    /// The fit of the first escape against log(1/σ0), and with skipping each scale's comparison.
    static func summarise(_ all: [JSONObject], scales: [Double], skipping: Bool) -> JSONObject {
        let plain = rows(all, skipping: false), skipped = rows(all, skipping: true)
        var escape: [Double] = [], logInverse: [Double] = []
        for row in plain {
            if let first = row["rank_reached_at"]?.numbers.first, let scale = row["init_scale"]?.numeric {
                escape.append(first); logInverse.append(Foundation.log(1 / scale))
            }
        }
        let fit = LinearFit(x: logInverse, y: escape)
        var summary = JSONObject()
        summary.set("init_scales", scales)
        summary.set("log_inverse_scale", logInverse)
        summary.set("first_escape_step", escape)
        summary.set("slope_steps_per_log_inverse_scale", fit?.slope)
        summary.set("intercept", fit?.intercept); summary.set("r2", fit?.r2)
        if skipping {
            summary["skipping"] = .array(zip(plain, skipped).map { a, b in
                let stepsA = a["steps_to_target"]?.numeric, stepsB = b["steps_to_target"]?.numeric
                let secA = a["seconds_to_target"]?.numeric, secB = b["seconds_to_target"]?.numeric
                var o = JSONObject()
                o["init_scale"] = a["init_scale"] ?? .null
                o.set("steps_to_target", stepsA); o.set("steps_to_target_skipping", stepsB)
                o.set("seconds_to_target", secA); o.set("seconds_to_target_skipping", secB)
                o.set("step_ratio", stepsA.flatMap { sa in stepsB.map { sa / max($0, 1) } })
                o.set("time_ratio", secA.flatMap { sa in secB.map { sa / max($0, 1e-9) } })
                o["final_loss"] = a["loss"] ?? .null; o["final_loss_skipping"] = b["loss"] ?? .null
                o.set("ranks_reached", a["rank_reached_at"]?.numbers.count ?? 0)
                o.set("ranks_reached_skipping", b["rank_reached_at"]?.numbers.count ?? 0)
                o["drop_count"] = a["drop_count"] ?? .null; o["jump_count"] = b["jump_count"] ?? .null
                return .object(o)
            })
        }
        return summary
    }

}
