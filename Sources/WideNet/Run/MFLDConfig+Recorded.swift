import Foundation

extension MFLDConfig {
    /// The configuration of an earlier mfld run, to continue it, with the backend and device pinned
    /// to the ones it ran on (a continuation is bit-identical only there).
    public init(recorded r: RecordedConfig) throws {
        guard r.command() == "mfld" else {
            throw BackendError("--resume \(r.directory.path): a \(r.command() ?? "unknown") run, not an mfld run")
        }
        self.init()
        particles = r.int("particles") ?? particles; n = r.int("n") ?? n; nTest = r.int("n_test"); d = r.int("d") ?? d
        steps = r.int("steps") ?? steps; learningRate = r.double("lr") ?? learningRate
        lambdaEntropy = r.double("lambda_ent") ?? lambdaEntropy; lambdaL2 = r.double("lambda_l2") ?? lambdaL2
        unit = r.string("unit").flatMap(ParticleUnit.init(rawValue:)) ?? unit
        unitScale = r.double("unit_scale") ?? unitScale
        loss = r.string("loss").flatMap(MFLDLoss.init(rawValue:))
        task = r.string("task").flatMap(MFLDTaskKind.init(rawValue:)) ?? task
        parityK = r.int("parity_k") ?? parityK; teacherWidth = r.int("teacher_width") ?? teacherWidth
        xPath = r.string("x"); yPath = r.string("y")
        annealEvery = r.int("anneal_every") ?? 0; annealFactor = r.double("anneal_factor") ?? annealFactor
        batch = r.int("batch")
        algorithm = r.string("algorithm").flatMap(MFLDAlgorithm.init(rawValue:)) ?? algorithm
        innerSteps = r.int("inner_steps") ?? innerSteps; svrgEvery = r.int("svrg_every") ?? 0
        seed = UInt64(bitPattern: Int64(r.int("seed") ?? 0))
        dataSeed = r.int("data_seed").map { UInt64(bitPattern: Int64($0)) }
        initScale = r.double("init_scale") ?? initScale; dataTerm = r.bool("data_term") ?? true
        logEvery = r.resolvedInt("log_every") ?? r.int("log_every")
        entropySample = r.int("entropy_sample") ?? entropySample
        precision = r.string("precision").flatMap(Precision.init(rawValue:)) ?? .f32
        saveParticles = r.bool("save_particles") ?? false
        (backend, device) = r.pinnedBackend
        out = r.directory.path
    }
}

extension MFLDConfig {
    /// The options as config.json records them (without the resolved section), to compare a command
    /// line given beside --resume with the run's own.
    public var recordedOptions: JSONObject { json(resolved: []) }
}
