import Foundation

/// One saddle run on the harness: the net and its optimiser, the loss at every step (the plateau
/// detector reads them all), and the jumps made when skipping plateaus.
final class SaddleRun: SteppedRun {
    typealias Logged = (step: Int, loss: Double, s: [Double], rank: Int)
    let setup: SaddleExperiment.Setup
    let control: RunControl
    let net: TwoLayerNet
    /// A singular value counts as learned once it passes half the smallest teacher value (the spectrum the
    /// map approaches, on its own scale: SaddleExperiment.Data).
    let threshold: Double
    var losses: [Double] = [], logged: [Logged] = []
    var jumps: [(step: Int, jump: PlateauJump, rank: Int)] = []
    var singular: [(step: Int, dead: Int, duplicates: Int)] = []      // Amari's singular regions, per logged step
    /// The first step at which the next plateau test may run, and the wait after the next failed one.
    var retryAt = 0, retryWait = 1
    var target: Double?
    var reachedTarget: (step: Int, seconds: Double)? = nil
    /// Seconds of earlier processes (a resumed run), so seconds to target count the whole run.
    var earlierSeconds = 0.0
    /// From the first observation (or the restore): seconds to target time the dynamics, not set-up.
    var clockStart: Date?

    var command: String { "saddle" }
    var steps: Int { setup.config.steps }
    /// On the CPU the products are OpenBLAS's, single-threaded: the CPU by name, as other commands record it.
    var backendInfo: BackendInfo? { setup.products.backend?.info ?? Self.hostInfo }
    static let hostInfo: BackendInfo = {
        let memory = Int(ProcessInfo.processInfo.physicalMemory)
        return BackendInfo(kind: "cpu", deviceName: CPUBackend.cpuName(), deviceIndex: nil,
                           driver: CPUBackend.blasDescription + "; single-threaded (saddle's nets are small)",
                           globalMemBytes: memory, maxAllocBytes: memory, supportsF64: true, isGPU: false)
    }()
    var backendKind: String? { setup.products.onDevice ? "opencl" : "cpu" }
    var notes: [String] { setup.notes }
    var c: SaddleExperiment.Config { setup.config }
    var seconds: Double { earlierSeconds + (clockStart.map { Date().timeIntervalSince($0) } ?? 0) }

    init(_ setup: SaddleExperiment.Setup, _ control: RunControl) throws {
        self.setup = setup; self.control = control
        let data = setup.data
        net = TwoLayerNet(x: data.x, y: data.y, n: data.n, d: data.d, k: data.k, w1: setup.w1, w2: setup.w2, m: setup.m,
                          activation: setup.config.activation, products: setup.products)
        threshold = 0.5 * (data.teacherSingularValues.filter { $0 > 1e-9 }.min() ?? 1)
        target = setup.config.targetLoss
    }

    func config() -> JSONObject {
        var o = JSONObject()
        o.set("command", "saddle"); o.set("version", widenetVersion)
        for (key, value) in ((try? ConfigCoding.object(c)) ?? JSONObject()).pairs { o[key] = value }
        var r = JSONObject()
        r.set("n", setup.data.n); r.set("d", setup.data.d); r.set("k", setup.data.k); r.set("hidden", setup.m)
        r.set("teacher_singular_values", setup.data.teacherSingularValues)
        r.set("teacher_singular_values_of", setup.data.teacherSingularValuesOf)
        r.set("origin_rate", setup.data.originRate)
        r.set("backend", setup.products.onDevice ? "opencl" : "cpu"); r.set("precision", "f64")
        r.set("inputs", c.xPath == nil ? (c.whitenInputs ? "whitened" : "gaussian") : "file")
        r.set("checkpoint_every", control.checkpointEvery)
        r["notes"] = .array(notes.map { .string($0) })
        o["resolved"] = .object(r)
        return o
    }

    /// The data (the teacher's inputs and outputs) and the initial weights.
    func writeInputs(in run: RunDirectory) throws {
        let data = setup.data
        if data.n * (data.d + data.k) <= RunHarness.keptInputValues {
            try run.writeArray(data.x, shape: [data.n, data.d], to: "x.npy")
            try run.writeArray(data.y, shape: [data.n, data.k], to: "y.npy")
        }
        try run.writeArray(setup.w1, shape: [setup.m, data.d], to: "w1_init.npy")
        try run.writeArray(setup.w2, shape: [data.k, setup.m], to: "w2_init.npy")
    }

    func observe(_ step: Int) throws -> Observation {
        if clockStart == nil { clockStart = Date() }
        let loss = try net.forward()
        guard loss.isFinite else { return Observation(loss: loss, row: nil) }
        losses.append(loss)
        if target == nil { target = 1e-4 * loss }
        if reachedTarget == nil, let target, loss <= target { reachedTarget = (step, seconds) }
        guard step % c.logEvery == 0 || step == c.steps || jumps.last?.step == step - 1 else { return Observation(loss: loss, row: nil) }
        let s = try UnitDiagnostics.mapSingularValues(net)
        let rank = s.filter { $0 > threshold }.count
        var row = JSONObject()
        row.set("step", step); row.set("loss", loss); row.set("rank", rank)
        row.set("singular_values", Array(s.prefix(max(setup.data.k, 1))))
        let units = UnitDiagnostics.of(net)
        row.set("alignment", units.alignment); row.set("dead_units", units.dead); row.set("duplicate_pairs", units.duplicates)
        singular.append((step, units.dead, units.duplicates))
        logged.append((step, loss, s, rank))
        return Observation(loss: loss, row: row)
    }

    /// Plateau detection from the dynamics at each step: the loss the next GD step would remove,
    /// η‖∇L‖², is under `plateauThreshold` of the loss. There the jump is tried at once; where it finds
    /// no plateau to skip (a drop under way, or the last minimum) the next try waits twice as long.
    func advance(from step: Int) throws {
        let gradient = try net.gradient()
        if c.skipPlateaus, reachedTarget == nil, step >= retryAt {
            let squared = gradient.w1.reduce(0) { $0 + $1 * $1 } + gradient.w2.reduce(0) { $0 + $1 * $1 }
            if c.learningRate * squared <= c.plateauThreshold * losses[step] {
                if let jump = try net.jumpAlongLinearisedGD(learningRate: c.learningRate, gradient: gradient) {
                    jumps.append((step, jump, try UnitDiagnostics.mapSingularValues(net).filter { $0 > threshold }.count))
                    retryWait = 1
                    retryAt = step + 1
                    try net.step(c.optimizer, learningRate: c.learningRate)
                    return
                }
                retryAt = step + retryWait
                retryWait = min(2 * retryWait, 256)
            }
        }
        try net.step(c.optimizer, learningRate: c.learningRate, gradient: gradient)
    }

    func checkpointArrays(_ cp: inout Checkpoint) throws -> [(name: String, npy: Data)] {
        let st = net.state
        cp.integers["optimizer_step"] = st.t
        cp.integers["retry_at"] = retryAt; cp.integers["retry_wait"] = retryWait
        if let target { cp.set("target_loss", target) }
        if let reachedTarget { cp.integers["reached_target_step"] = reachedTarget.step; cp.set("reached_target_seconds", reachedTarget.seconds) }
        cp.set("seconds", seconds)
        var jumpRows: [Double] = []
        for j in jumps {
            jumpRows += [Double(j.step), j.jump.stepsReplaced, j.jump.lossBefore, j.jump.lossAfter, j.jump.topRate, Double(j.rank)]
        }
        let (m, d, k) = (setup.m, setup.data.d, setup.data.k)
        var arrays: [(name: String, npy: Data)] = []
        arrays.append(Checkpoint.array("w1", st.w1, shape: [m, d]))
        arrays.append(Checkpoint.array("w2", st.w2, shape: [k, m]))
        for (name, values) in [("first1", st.first1), ("first2", st.first2), ("second1", st.second1), ("second2", st.second2),
                               ("losses", losses)] {
            arrays.append(Checkpoint.array(name, values, shape: [values.count]))
        }
        arrays.append(Checkpoint.array("jumps", jumpRows, shape: [jumps.count, 6]))
        return arrays
    }

    func restore(_ cp: Checkpoint, in run: URL, rows: [JSONObject]) throws {
        func values(_ name: String) throws -> [Double] { try cp.array(name, in: run).values }
        let st = TwoLayerNet.State(w1: try values("w1"), w2: try values("w2"), first1: try values("first1"), first2: try values("first2"),
                                   second1: try values("second1"), second2: try values("second2"), t: cp.integers["optimizer_step"] ?? 0)
        guard st.w1.count == net.w1.count, st.w2.count == net.w2.count, st.first1.count == st.w1.count,
              st.second1.count == st.w1.count, st.first2.count == st.w2.count, st.second2.count == st.w2.count else {
            throw WideNetIOError("the checkpoint in \(run.path) does not match the run's shapes")
        }
        net.state = st
        losses = try values("losses")
        guard losses.count == cp.step + 1 else { throw WideNetIOError("the checkpoint in \(run.path) has \(losses.count) losses for step \(cp.step)") }
        let j = try values("jumps")
        jumps = []
        for i in stride(from: 0, to: j.count - 5, by: 6) {
            let jump = PlateauJump(stepsReplaced: j[i + 1], lossBefore: j[i + 2], lossAfter: j[i + 3], topRate: j[i + 4])
            jumps.append((step: Int(j[i]), jump: jump, rank: Int(j[i + 5])))
        }
        retryAt = cp.integers["retry_at"] ?? 0; retryWait = cp.integers["retry_wait"] ?? 1
        target = cp.number("target_loss") ?? target
        if let step = cp.integers["reached_target_step"] { reachedTarget = (step, cp.number("reached_target_seconds") ?? 0) }
        earlierSeconds = cp.number("seconds") ?? 0
        clockStart = Date()
        for row in rows {
            guard let step = row["step"]?.numeric, let loss = row["loss"]?.numeric else { continue }
            logged.append((Int(step), loss, row["singular_values"]?.numbers ?? [], Int(row["rank"]?.numeric ?? 0)))
            singular.append((Int(step), Int(row["dead_units"]?.numeric ?? 0), Int(row["duplicate_pairs"]?.numeric ?? 0)))
        }
        try net.forward()   // the outputs the next step starts from
    }

    /// The weights with the optimiser's two moments, and the loss of every step so far.
    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) {
        (8 * (3 * Double(net.w1.count + net.w2.count) + Double(c.steps + 1)), ("hidden", setup.m))
    }

    func initialFailure() -> String { "the initial weights (--init-scale \(c.initScale)) or the data overflow" }

    func finish(in run: RunDirectory) throws -> JSONObject {
        let data = setup.data
        try run.writeArray(losses, shape: [losses.count], to: "losses.npy")
        try run.writeArray(net.w1, shape: [setup.m, data.d], to: "w1.npy")
        try run.writeArray(net.w2, shape: [data.k, setup.m], to: "w2.npy")
        let plateaus = PlateauDetector.plateaus(losses, threshold: c.plateauThreshold, minSteps: c.plateauMinSteps,
                                                floor: 1e-8 * (losses.first ?? 0))
        func rank(at step: Int) -> Int { logged.last(where: { $0.step <= step })?.rank ?? 0 }
        // The steps at which the rank first reaches 1, 2, …: the drops of the staircase.
        var reached: [Double] = []
        for r in 1...max(1, data.k) {
            if let first = logged.first(where: { $0.rank >= r }) { reached.append(Double(first.step)) }
        }
        let records = plateaus.map { p in
            let mid = singular.last(where: { $0.step <= (p.start + p.end) / 2 })
            return SaddleSummary.PlateauRecord(start: p.start, end: p.end, length: p.end - p.start + 1, loss: p.loss,
                                               rank: rank(at: p.start), deadUnits: mid?.dead, duplicatePairs: mid?.duplicates)
        }
        // A jump is a one-step drop; unsmoothed, jumps a few steps apart stay apart.
        let found = DropDetector.drops(losses, floor: 1e-8 * (losses.first ?? 0), halfWidth: c.skipPlateaus ? 0 : 5)
        let drops = found.map { drop in
            SaddleSummary.DropRecord(start: drop.start, peak: drop.peak, end: drop.end, lossBefore: drop.lossBefore,
                                     lossAfter: drop.lossAfter, rankBefore: rank(at: drop.start), rankAfter: rank(at: drop.end))
        }
        let jumpRecords = jumps.map { s in
            SaddleSummary.JumpRecord(step: s.step, stepsReplaced: s.jump.stepsReplaced, lossBefore: s.jump.lossBefore,
                                     lossAfter: s.jump.lossAfter, topRate: s.jump.topRate, rankAfter: s.rank)
        }
        return try ConfigCoding.object(SaddleSummary(
            initialLoss: losses.first, finalLoss: losses.last, finalRank: logged.last?.rank,
            singularValuesOf: UnitDiagnostics.mapDescription(c.activation),
            finalSingularValues: logged.last.map { Array($0.s.prefix(data.k)) } ?? [],
            teacherSingularValues: data.teacherSingularValues, teacherSingularValuesOf: data.teacherSingularValuesOf,
            originRate: data.originRate, rankThreshold: threshold, rankReachedAt: reached,
            ranksVisited: logged.reduce(into: [Int]()) { visited, row in if visited.last != row.rank { visited.append(row.rank) } },
            plateaus: records, plateauCount: plateaus.count, drops: drops, dropCount: drops.count,
            ranksAfterDrops: found.map { Double(rank(at: $0.end)) }, targetLoss: target, stepsToTarget: reachedTarget?.step,
            secondsToTarget: reachedTarget?.seconds,
            jumps: c.skipPlateaus ? jumpRecords : nil, jumpCount: c.skipPlateaus ? jumps.count : nil,
            ranksAfterJumps: c.skipPlateaus ? jumps.map { Double($0.rank) } : nil,
            stepsReplacedByJumps: c.skipPlateaus ? jumps.reduce(0) { $0 + $1.jump.stepsReplaced } : nil))
    }
}
