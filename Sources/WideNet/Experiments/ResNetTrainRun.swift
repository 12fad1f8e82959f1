import Foundation

/// One `resnet --experiment train` run on the harness: the net, its optimiser and the test set.
/// Logged rows: the training and test loss (and accuracies for ±1 labels), the gradient's norm.
/// At the end: the parameters, each block's Lipschitz bound, and the flow of up to 256 test
/// points through the blocks (flow.npy, (L + 1) × Q × D) for the report's picture.
final class ResNetTrainRun<T: Scalar>: SteppedRun {
    let cfg: ResNetTrain.Config
    let data: ResidualData
    let net: ResidualNet<T>
    let test: ResidualNet<T>.Batch?
    let control: RunControl
    /// The training outputs of the state last observed, which the next update's backward starts from.
    var outputs: [Double] = []
    var lastGradientNorm: Double?
    var last: (loss: Double, test: Double?, accuracy: Double?, testAccuracy: Double?)?

    var command: String { "resnet" }
    var steps: Int { cfg.steps }
    var backendInfo: BackendInfo? { net.backend.info }
    var kernelBuildSeconds: Double? { net.backend.info.kind == "opencl" ? net.backend.buildSeconds : nil }
    var notes: [String] { data.notes }
    var rule: ParameterRule { ParameterRule(cfg.optimizer, learningRate: cfg.learningRate) }

    init(_ cfg: ResNetTrain.Config, data: ResidualData, backend: any Backend, control: RunControl) throws {
        self.cfg = cfg; self.data = data; self.control = control
        let shape = ResidualNet<T>.Shape(inputs: data.d, dim: cfg.dim, width: cfg.width, depth: cfg.depth, scheme: cfg.scheme)
        // The memory this needs was checked before the run directory existed (ResNetTrain.preflight).
        net = try ResidualNet<T>(backend: backend, shape: shape, horizon: cfg.horizon, activation: cfg.activation, x: data.x, points: data.n,
                                 parameters: ResidualNet<T>.initialParameters(shape, horizon: cfg.horizon, seed: cfg.seed, lmK: cfg.lmK))
        test = data.testN > 0 ? try net.batch(data.testX, points: data.testN) : nil
        net.noise = cfg.noise; net.noiseSeed = cfg.seed
        if let t = cfg.tolerance { net.tolerance = t }
        if let m = cfg.maxIterations { net.maxIterations = m }
        // A first forward pass before anything is written: backward Euler that cannot solve a block fails here.
        outputs = try net.outputs()
    }

    func config() -> JSONObject {
        RecordedConfig.json(command: "resnet", options: cfg, resolved: [
            ("experiment", .string("train")), ("n", .int(data.n)), ("test_size", .int(data.testN)), ("input_dim", .int(data.d)),
            ("h", .number(net.h)), ("parameters", .int(net.shape.parameterCount)), ("classification", .bool(data.classification)),
            ("backend", .string(net.backend.info.kind)), ("device", .string(net.backend.info.deviceName)),
            ("checkpoint_every", control.checkpointEvery.map { .int($0) } ?? .null), ("notes", .array(notes.map { .string($0) })),
        ])
    }

    func writeInputs(in run: RunDirectory) throws {
        try data.write(in: run)
        guard (data.n + data.testN) * (data.d + 1) <= RunHarness.keptInputValues else { return }
        try run.writeArray(try net.parameters().flatMap { $0 }, shape: [net.shape.parameterCount], to: "parameters_init.npy")
    }

    /// The fraction of outputs whose sign is the label's.
    static func accuracy(_ f: [Double], _ y: [Double]) -> Double {
        Double(zip(f, y).filter { ($0.0 >= 0 ? 1.0 : -1.0) == $0.1 }.count) / Double(max(f.count, 1))
    }

    func observe(_ k: Int) throws -> Observation {
        outputs = try net.outputs()
        let loss = ResidualNet<T>.loss(outputs, data.y)
        guard loss.isFinite else { return Observation(loss: loss, row: nil) }
        guard k % cfg.logEvery == 0 || k == cfg.steps else { return Observation(loss: loss, row: nil) }
        var row = JSONObject()
        row.set("step", k); row.set("loss", loss)
        var testLoss: Double? = nil, testAccuracy: Double? = nil
        if let test {
            let ft = try net.forward(test)
            testLoss = ResidualNet<T>.loss(ft, data.testY)
            row.set("test_loss", testLoss ?? .nan)
            if data.classification { testAccuracy = Self.accuracy(ft, data.testY) }
        }
        let accuracy = data.classification ? Self.accuracy(outputs, data.y) : nil
        if let accuracy { row.set("accuracy", accuracy) }
        if let testAccuracy { row.set("test_accuracy", testAccuracy) }
        if let g = lastGradientNorm { row.set("gradient_norm", g) }
        last = (loss, testLoss, accuracy, testAccuracy)
        return Observation(loss: loss, row: row)
    }

    func advance(from k: Int) throws {
        // euler-maruyama trains on noisy passes and reports the noise-free map's loss.
        if cfg.scheme == .eulerMaruyama { outputs = try net.outputs(noisy: true) }
        if outputs.count != data.n { outputs = try net.outputs() }
        try net.backward(outputs: outputs, labels: data.y)
        lastGradientNorm = try net.grad.enumerated().reduce(0.0) { $0 + (try net.backend.sumSquares($1.1, count: net.shape.counts[$1.0], as: T.self)) }
            .squareRoot()
        try net.apply(rule)
    }

    func synchronize() throws { try net.backend.synchronize() }

    var checkpointSize: (bytes: Double, grows: (name: String, value: Int)?) { (8 * 3 * Double(net.shape.parameterCount), ("depth", cfg.depth)) }

    func checkpointArrays(_ cp: inout Checkpoint) throws -> [(name: String, npy: Data)] {
        let st = try net.state()
        cp.integers["updates"] = st.updates
        if let g = lastGradientNorm { cp.set("gradient_norm", g) }
        let count = net.shape.parameterCount
        return [Checkpoint.array("theta", st.theta.flatMap { $0 }, shape: [count]), Checkpoint.array("first", st.first.flatMap { $0 }, shape: [count]),
                Checkpoint.array("second", st.second.flatMap { $0 }, shape: [count])]
    }

    func restore(_ cp: Checkpoint, in run: URL, rows: [JSONObject]) throws {
        func tensors(_ name: String) throws -> [[Double]] {
            let flat = try cp.array(name, in: run).values
            guard flat.count == net.shape.parameterCount else {
                throw WideNetIOError("the checkpoint in \(run.path) holds \(flat.count) values of \(name), the net \(net.shape.parameterCount)")
            }
            var out: [[Double]] = [], at = 0
            for c in net.shape.counts { out.append(Array(flat[at..<(at + c)])); at += c }
            return out
        }
        try net.restore(.init(theta: try tensors("theta"), first: try tensors("first"), second: try tensors("second"),
                              updates: cp.integers["updates"] ?? cp.step))
        lastGradientNorm = cp.number("gradient_norm")
        outputs = try net.outputs()   // the forward pass the next update's backward starts from
    }

    func initialFailure() -> String { "the initial parameters or the data overflow (large inputs with --precision f32?)" }
    func divergenceHint() -> String { "try a smaller --lr (now \(cfg.learningRate))" }

    func finish(in run: RunDirectory) throws -> JSONObject {
        let s = net.shape
        let theta = try net.parameters()
        try run.writeArray(theta.flatMap { $0 }, shape: [s.parameterCount], to: "parameters.npy")
        // Block l's Lipschitz bound in x: h·‖V_l‖₂‖U_l‖₂ (σ′ ≤ 1), and the map x_0 → x_L's, Π(1 + that).
        var bounds: [Double] = []
        for l in 0..<s.depth {
            let u = try SingularValues.of(theta[net.index(l, 0)], rows: s.width, cols: s.dim).first ?? 0
            let v = try SingularValues.of(theta[net.index(l, 2)], rows: s.dim, cols: s.width).first ?? 0
            bounds.append(net.h * u * v)
        }
        try run.writeArray(bounds, shape: [s.depth], to: "lipschitz.npy")
        var flowPoints = 0, probeOutputs: [Double]? = nil, reconstruction: Double? = nil
        if let test {
            let q = min(256, data.testN)
            let probe = try net.batch(Array(data.testX.prefix(q * data.d)), points: q)
            let f = try net.forward(probe)
            let states = try net.states(of: probe)
            try run.writeArray(states, shape: [s.depth + 1, q, s.dim], to: "flow.npy")
            // revnet: how exactly x_L alone gives back every earlier state (the memory-free backward's premise).
            if s.revnet { reconstruction = zip(try net.reconstructedStates(of: probe), states).map { abs($0 - $1) }.max() }
            try run.writeArray(Array(data.testY.prefix(q)), shape: [q], to: "flow_labels.npy")
            try run.writeArray(f, shape: [q], to: "flow_outputs.npy")
            flowPoints = q; probeOutputs = f
        }
        var o = JSONObject()
        o.set("experiment", "train"); o.set("task", cfg.task.rawValue)
        o.set("depth", s.depth); o.set("width", s.width); o.set("dim", s.dim); o.set("h", net.h); o.set("horizon", cfg.horizon)
        o.set("parameters", s.parameterCount)
        if let last {
            o.set("final_loss", last.loss)
            if let t = last.test { o.set("final_test_loss", t) }
            if let a = last.accuracy { o.set("final_accuracy", a) }
            if let a = last.testAccuracy { o.set("final_test_accuracy", a) }
        }
        o.set("scheme", cfg.scheme.rawValue)
        if s.lm { o.set("lm_k", theta[net.kIndex]) }
        o.set("lipschitz_max", bounds.max() ?? 0)
        // A revnet block is two half-steps, each within 1 + h‖V_l‖‖U_l‖.
        o.set("lipschitz_product", bounds.reduce(1) { $0 * (1 + $1) * (s.revnet ? 1 + $1 : 1) })
        if let reconstruction { o.set("revnet_reconstruction_error", reconstruction) }
        o.set("flow_points", flowPoints)
        // The learned map on the flow's points, which a depth sweep compares across depths.
        if let f = probeOutputs { o.set("probe_outputs", f) }
        return o
    }
}
