import Foundation

/// `widenet resnet --experiment boost` on the harness: step k adds block k both ways
/// (ResidualBoosting: a least-squares fit of the functional gradient with a line search, and the same
/// block trained layer by layer by GD), from the same random hidden weights. Rows: the training and
/// test loss of each after k blocks, and boosting's step η_k. The summary fits each loss's rate in k
/// (loss ∝ k^−α over the logged k ≥ 1: α = −the log-log slope with its 95 % Student-t interval,
/// not identified with fewer than 4 logged block counts; ConvergenceOrder).
final class ResNetBoostRun: SteppedRun {
    let cfg: ResNetTrain.Config
    let data: ResidualData
    let control: RunControl
    var boosted: ResidualBoosting, layered: ResidualBoosting
    let initial: (boosted: ResidualBoosting, layered: ResidualBoosting)
    var etas: [Double] = []
    var rows: [(k: Int, boost: Double, layer: Double)] = []

    var command: String { "resnet" }
    var steps: Int { cfg.steps }
    var backendInfo: BackendInfo? { nil }
    var backendKind: String? { "cpu" }
    var notes: [String] { data.notes + ["boost runs on the host in f64 (its blocks are least-squares fits and short GD runs)"] }

    init(_ cfg: ResNetTrain.Config, data: ResidualData, control: RunControl = RunControl()) {
        self.cfg = cfg; self.data = data; self.control = control
        let start = ResidualBoosting(x: data.x, y: data.y, points: data.n, inputs: data.d, dim: cfg.dim, width: cfg.width, ridge: cfg.ridge)
        boosted = start; layered = start; initial = (start, start)
    }

    /// Block k's random hidden weights: U ~ N(0, 1/D), c ~ N(0, ¼) (Philox stream residualTask, step 2000 + k).
    func hiddenWeights(_ k: Int) -> (u: [Double], c: [Double]) {
        let g = PhiloxGenerator(seed: cfg.seed), step = UInt32(2000 + k), s = RandomStream.residualTask.rawValue
        let u: [Double] = g.array(count: cfg.width * cfg.dim, stream: s, step: step, distribution: .normal, scale: 1 / Double(cfg.dim).squareRoot())
        let c: [Double] = g.array(count: cfg.width, offset: UInt64(cfg.width * cfg.dim), stream: s, step: step, distribution: .normal, scale: 0.5)
        return (u, c)
    }

    func config() -> JSONObject {
        RecordedConfig.json(command: "resnet", options: cfg, resolved: [
            ("experiment", .string("boost")), ("n", .int(data.n)), ("test_size", .int(data.testN)), ("input_dim", .int(data.d)),
            ("backend", .string("cpu")), ("precision", .string("f64")),
            ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null), ("notes", .array(notes.map { .string($0) })),
        ])
    }

    func writeInputs(in run: RunDirectory) throws { try data.write(in: run) }

    func observe(_ k: Int) throws -> Observation {
        let (lb, ll) = (boosted.trainLoss, layered.trainLoss)
        let loss = lb.isFinite && ll.isFinite ? lb : Double.nan
        // A row every --log-every blocks and after the last; the rates are fitted on the logged rows
        // (which a resumed run reads back), so that a resumed run fits the same.
        guard k % cfg.logEvery == 0 || k == cfg.steps else { return Observation(loss: loss, row: nil) }
        var row = JSONObject()
        row.set("step", k); row.set("blocks", k); row.set("loss", lb); row.set("layerwise_loss", ll)
        if data.testN > 0 {
            row.set("test_loss", ResidualNet<Double>.loss(boosted.predict(data.testX, points: data.testN), data.testY))
            row.set("layerwise_test_loss", ResidualNet<Double>.loss(layered.predict(data.testX, points: data.testN), data.testY))
        }
        if k > 0, k <= etas.count { row.set("eta", etas[k - 1]) }
        if rows.last?.k != k { rows.append((k, lb, ll)) }
        return Observation(loss: loss, row: row)
    }

    func advance(from k: Int) throws {
        let (u, c) = hiddenWeights(k)
        etas.append(boosted.boost(u: u, c: c))
        layered.layerwise(u: u, c: c, steps: cfg.boostSteps, lr: cfg.learningRate)
    }

    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) {
        (16 * Double(cfg.steps * (2 * cfg.width * cfg.dim + cfg.width) + cfg.dim + 1), ("steps", cfg.steps))
    }

    func checkpointArrays(_ cp: inout Checkpoint) throws -> [(name: String, npy: Data)] {
        [Checkpoint.array("boosted", boosted.flat, shape: [boosted.flat.count]), Checkpoint.array("layered", layered.flat, shape: [layered.flat.count]),
         Checkpoint.array("etas", etas, shape: [etas.count])]
    }

    func restore(_ cp: Checkpoint, in run: URL, rows logged: [JSONObject]) throws {
        boosted = initial.boosted; layered = initial.layered
        try boosted.restore(try cp.array("boosted", in: run).values, blocks: cp.step)
        try layered.restore(try cp.array("layered", in: run).values, blocks: cp.step)
        etas = try cp.array("etas", in: run).values
        rows = logged.compactMap { r in
            guard let k = r["step"]?.numeric, let b = r["loss"]?.numeric, let l = r["layerwise_loss"]?.numeric else { return nil }
            return (Int(k), b, l)
        }
    }

    /// loss ∝ k^−α over k ≥ 1: α = −(the log-log slope), with its 95 % Student-t interval, or not
    /// identified with the reason (fewer than 2 residual degrees of freedom). `rate`, `standard_error`
    /// and `points` as before; `value`, `low`, `high` repeat α and its interval (a FittedValue's reading).
    static func rate(_ k: [Double], _ loss: [Double]) -> JSONValue {
        let fit = ConvergenceOrder(h: k, error: loss, floor: 0, noun: "logged block counts")
        var o = JSONObject()
        o.set("identified", fit.identified)
        o["rate"] = fit.order.map { .number(-$0) } ?? .null
        o["standard_error"] = fit.standardError.map { .number($0) } ?? .null
        if let i = fit.interval { o.set("interval", [-i[1], -i[0]]) } else { o["interval"] = .null }
        o.set("points", fit.points)
        o["reason"] = fit.reason.map { .string($0) } ?? .null
        o["value"] = fit.identified ? fit.order.map { .number(-$0) } ?? .null : .null
        o["low"] = fit.high.map { .number(-$0) } ?? .null
        o["high"] = fit.low.map { .number(-$0) } ?? .null
        return .object(o)
    }

    func finish(in run: RunDirectory) throws -> JSONObject {
        try run.writeArray(etas, shape: [etas.count], to: "boost_steps.npy")
        try run.writeArray(boosted.flat, shape: [boosted.flat.count], to: "boost_blocks.npy")
        try run.writeArray(layered.flat, shape: [layered.flat.count], to: "layerwise_blocks.npy")
        let after = rows.filter { $0.k >= 1 }
        var o = JSONObject()
        o.set("experiment", "boost"); o.set("task", cfg.task.rawValue); o.set("blocks", cfg.steps); o.set("width", cfg.width); o.set("dim", cfg.dim)
        o.set("final_loss", boosted.trainLoss); o.set("final_layerwise_loss", layered.trainLoss)
        if data.testN > 0 {
            o.set("final_test_loss", ResidualNet<Double>.loss(boosted.predict(data.testX, points: data.testN), data.testY))
            o.set("final_layerwise_test_loss", ResidualNet<Double>.loss(layered.predict(data.testX, points: data.testN), data.testY))
            if data.classification {
                o.set("final_test_accuracy", ResNetTrainRun<Double>.accuracy(boosted.predict(data.testX, points: data.testN), data.testY))
                o.set("final_layerwise_test_accuracy", ResNetTrainRun<Double>.accuracy(layered.predict(data.testX, points: data.testN), data.testY))
            }
        }
        o["boost_rate"] = Self.rate(after.map { Double($0.k) }, after.map(\.boost))
        o["layerwise_rate"] = Self.rate(after.map { Double($0.k) }, after.map(\.layer))
        return o
    }
}
