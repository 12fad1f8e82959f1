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
        if let twice = scales.first(where: { s in scales.filter { $0 == s }.count > 1 }) {
            throw BackendError("--init-scales lists \(scaleText(twice)) more than once")
        }
        // Initial weights from files take no scale: every member would be the same run.
        if let flag = [("--init-w1", base.initW1Path), ("--init-w2", base.initW2Path)].first(where: { $0.1 != nil })?.0 {
            throw BackendError("--init-scales sets the scale of the drawn initial weights; it does not apply with \(flag)", .usage)
        }
        // Every member's checks, made before the sweep's directory exists.
        let setup = try SaddleExperiment.prepare(base)
        let variants = base.skipPlateaus ? [false, true] : [false]
        var members: [SweepMember] = [], plan: [(scale: Double, skip: Bool)] = []
        for scale in scales {
            for skip in variants {
                plan.append((scale, skip))
                members.append(SweepMember(name: try directoryName(scale, skip: skip, in: resume ? base.out : nil)) { out, memberControl in
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
            var summary = try summarise(rows, scales: scales, skipping: base.skipPlateaus, resolution: escapeResolution(logEvery: base.logEvery))
            // The members ran on one backend and device; the sweep says which, as a single run does.
            summary["backend"] = members.first?["backend"] ?? .null
            summary["device"] = members.first?["device"] ?? .null
            // Discrete GD grows the top mode at the origin by (1 + ηs₁) a step, s₁ = σ₁(YᵀX/n) the data's own rate
            // (the teacher's s₁ only for whitened inputs): ln(1/σ0)/ln(1 + ηs₁) steps to escape. Every member has the
            // same data, so the rate is the sweep's.
            summary.set("origin_rate", setup.data.originRate)
            if let rate = setup.data.originRate {
                summary.set("theory_steps_per_log_inverse_scale", 1 / Foundation.log1p(base.learningRate * rate))
            } else {
                summary.set("theory_steps_per_log_inverse_scale", nil as Double?)
                summary.set("theory_note", "no theory for relu: it is not differentiable at the origin, where the escape rate is the largest "
                            + "stationary value of ‖Yᵀrelu(Xu)‖/n over unit u, not a singular value of YᵀX/n")
            }
            return summary
        }, announce: true)
    }

    /// σ0 with the fewest significant digits that read back as σ0 itself (1e-03, 1.2e-03, 1.004e-03):
    /// distinct scales get distinct names, and a scale one digit gives keeps the name it always had.
    public static func scaleText(_ scale: Double) -> String {
        for digits in 0...16 {
            let text = String(format: "%.\(digits)e", scale)
            if Double(text) == scale { return text }
        }
        return String(format: "%.16e", scale)
    }

    /// The member directory of a scale.
    public static func memberName(_ scale: Double, skip: Bool) -> String { "sigma" + scaleText(scale) + (skip ? "-skip" : "") }

    /// The directory a member runs in. Resuming a sweep of an earlier widenet, which named every
    /// member by one digit (`sigma%.0e`), a member is found under that name when its config.json
    /// records this very scale; a directory that records another scale is never read as this one's.
    static func directoryName(_ scale: Double, skip: Bool, in resumed: String?) throws -> String {
        let name = memberName(scale, skip: skip)
        guard let resumed else { return name }
        let root = URL(fileURLWithPath: resumed), fm = FileManager.default
        func recordedScale(_ member: String) -> Double? {
            let file = root.appendingPathComponent(member).appendingPathComponent("config.json")
            return (try? RunFiles.object(in: file, shown: file.path))?["init_scale"]?.numeric
        }
        if fm.fileExists(atPath: root.appendingPathComponent(name).path) {
            if let recorded = recordedScale(name), recorded != scale {
                throw BackendError("--resume \(resumed): \(name) holds the run from σ0 = \(recorded), not \(scale) (an earlier widenet gave "
                                   + "nearby scales one directory); run the sweep afresh")
            }
            return name
        }
        let legacy = String(format: "sigma%.0e", scale) + (skip ? "-skip" : "")
        if legacy != name, recordedScale(legacy) == scale { return legacy }
        return name
    }

    public static func rows(_ rows: [JSONObject], skipping: Bool) -> [JSONObject] {
        rows.filter { ($0["skip_plateaus"] == .bool(true)) == skipping }
    }

    /// How finely a member's first escape step is known, ± steps: the rank is read on logged rows, so
    /// with rows every K steps the crossing lies within half a logged interval of the step found, and
    /// within one step when every step is logged (GD's own steps are the finest time there is).
    static func escapeResolution(logEvery: Int) -> Double { max(1, Double(logEvery) / 2) }

    /// The fit of the first escape against log(1/σ0) (each escape step known to ± `resolution` steps),
    /// and with skipping each scale's comparison.
    static func summarise(_ all: [JSONObject], scales: [Double], skipping: Bool, resolution: Double) throws -> JSONObject {
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
        // The slope with its standard error and 95 % interval from the residuals, floored by the escape steps' resolution, or why it has none.
        summary["fit_steps_per_log_inverse_scale"] = .object(try ConfigCoding.object(SaddleEscapeFit(x: logInverse, y: escape, resolution: resolution)))
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
