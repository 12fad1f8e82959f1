extension OpenCLBackend {
    public func ntkForward<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer, a: any DeviceBuffer,
                                      masks: any DeviceBuffer, partialU: any DeviceBuffer, as: T.Type) throws {
        try ntkForward(s, x: x, w: w, a: a, masks: masks, partialU: partialU, as: T.self, config: ntkConfig(T.precision))
    }

    /// The forward pass with explicit tiles (the tests and the benchmark compare variants this way).
    func ntkForward<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer, a: any DeviceBuffer,
                               masks: any DeviceBuffer, partialU: any DeviceBuffer, as: T.Type, config c: NTKKernelConfig) throws {
        guard s.n > 0, s.width > 0 else { return }
        let plan = LaunchPlans.ntkForward(s, c, scalar: T.precision.bytes)
        let groups = LaunchPlans.partialGroups(plan)
        let partials = try scratchBuffer("ntk.partials", bytes: groups * s.n * MemoryLayout<T>.stride)
        let args: [CLArg] = [.int(s.n), .int(s.d), .int(s.width), .int(s.words), .buffer(buffer(x)), .buffer(buffer(w)),
                             .buffer(buffer(a)), .buffer(buffer(masks)), .buffer(partials)]
        if c.variant == 1 {
            let opts = try options(T.self, LaunchPlans.rowtileDefines)
            try cl.launch(try kernel([.ntk], plan.kernel, options: opts), plan, args: args)
        } else {
            try cl.launch(try kernel([.ntkTiled], plan.kernel, options: try options(T.self, c.defines)), plan, args: args)
        }
        try sumPartials(partials, n: s.n, groups: groups, into: buffer(partialU), as: T.self)
    }

    /// out[i] = Σ_g partials[g·n + i] with a fixed tree (reduce.cl), for every forward pass.
    func sumPartials<T: Scalar>(_ partials: CLBuffer, n: Int, groups: Int, into out: CLBuffer, as: T.Type) throws {
        let plan = LaunchPlans.sumPartials(n: n, scalar: T.precision.bytes)
        try cl.launch(try kernel([.reduce], plan.kernel, options: try options(T.self, ["-DRWG=\(plan.local[0])"])), plan,
                      args: [.int(n), .int(groups), .buffer(partials), .buffer(out)])
    }

    public func ntkBackwardUpdate<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer,
                                             a: any DeviceBuffer, masks: any DeviceBuffer, residual: any DeviceBuffer,
                                             scale: T, trainOutput: Bool) throws {
        try ntkBackwardUpdate(s, x: x, w: w, a: a, masks: masks, residual: residual, scale: scale, trainOutput: trainOutput,
                              config: ntkConfig(T.precision))
    }

    func ntkBackwardUpdate<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer,
                                      a: any DeviceBuffer, masks: any DeviceBuffer, residual: any DeviceBuffer,
                                      scale: T, trainOutput: Bool, config c: NTKKernelConfig) throws {
        guard s.n > 0, s.width > 0 else { return }
        let b = T.precision.bytes
        let plan = LaunchPlans.ntkBackward(s, c, scalar: b)
        if c.variant == 1 {
            let opts = try options(T.self, ["-DBWD_WG=\(plan.local[0])", "-DBWD_SC=\(LaunchPlans.backwardSamples)",
                                            "-DBWD_KC=\(LaunchPlans.backwardChunk)", "-DTRAIN_A=\(trainOutput ? 1 : 0)"])
            try cl.launch(try kernel([.ntk], plan.kernel, options: opts), plan,
                          args: [.int(s.n), .int(s.d), .int(s.width), .int(s.words), .real(scale), .buffer(buffer(x)),
                                 .buffer(buffer(w)), .buffer(buffer(a)), .buffer(buffer(masks)), .buffer(buffer(residual))])
            return
        }
        let opts = try options(T.self, c.defines)
        // Both gradients at the old parameters: ∇_a before W moves, W's update with the old a.
        var gradientA: CLBuffer?
        var sampleGroups = 0
        if trainOutput {
            let gPlan = LaunchPlans.ntkOutputGradient(s, c, scalar: b)
            sampleGroups = gPlan.groups[1]
            let ga = try scratchBuffer("ntk.outputGradient", bytes: sampleGroups * s.width * MemoryLayout<T>.stride)
            try cl.launch(try kernel([.ntkTiled], gPlan.kernel, options: opts), gPlan,
                          args: [.int(s.n), .int(s.d), .int(s.width), .buffer(buffer(x)), .buffer(buffer(w)),
                                 .buffer(buffer(residual)), .buffer(ga)])
            gradientA = ga
        }
        try cl.launch(try kernel([.ntkTiled], plan.kernel, options: opts), plan,
                      args: [.int(s.n), .int(s.d), .int(s.width), .int(s.words), .real(scale), .buffer(buffer(x)),
                             .buffer(buffer(w)), .buffer(buffer(a)), .buffer(buffer(masks)), .buffer(buffer(residual))])
        if let ga = gradientA {
            let sPlan = LaunchPlans.ntkOutputStep(s)
            try cl.launch(try kernel([.ntkTiled], sPlan.kernel, options: opts), sPlan,
                          args: [.int(s.width), .int(sampleGroups), .real(scale), .buffer(ga), .buffer(buffer(a))])
        }
    }

    public func ntkDiagnostics<T: Scalar>(_ s: NTKBlockShape, w: any DeviceBuffer, initial: InitialWeights,
                                          masks: any DeviceBuffer, masks0: any DeviceBuffer, as: T.Type) throws -> NTKBlockDiagnostics {
        let maxPlan = LaunchPlans.reduction(initial.isStored ? "max_move_sq" : "max_move_sq_philox", bytesPerItem: T.precision.bytes)
        let flipPlan = LaunchPlans.reduction("mask_flips", bytesPerItem: 4)
        let opts = try options(T.self, ["-DRWG=\(maxPlan.local[0])"])
        let maxOut = try scratchBuffer("reduce.max", bytes: maxPlan.groups[0] * MemoryLayout<T>.stride)
        let flipOut = try scratchBuffer("reduce.flips", bytes: flipPlan.groups[0] * 4)
        switch initial {
        case .stored(let w0):
            try cl.launch(try kernel([.reduce], maxPlan.kernel, options: opts), maxPlan,
                          args: [.int(s.width), .int(s.d), .buffer(buffer(w)), .buffer(buffer(w0)), .buffer(maxOut)])
        case .philox(let seed, let offset, let scale):
            try cl.launch(try kernel([.philox, .reduce], maxPlan.kernel, options: opts + " -DWITH_PHILOX"), maxPlan,
                          args: [.int(s.width), .int(s.d), .buffer(buffer(w)), .buffer(maxOut),
                                 .uint32(UInt32(truncatingIfNeeded: offset)), .uint32(UInt32(truncatingIfNeeded: offset >> 32)),
                                 .uint32(UInt32(truncatingIfNeeded: seed)), .uint32(UInt32(truncatingIfNeeded: seed >> 32)),
                                 .real(T(scale))])
        }
        try cl.launch(try kernel([.reduce], flipPlan.kernel, options: opts), flipPlan,
                      args: [.int64(Int64(s.maskWords)), .buffer(buffer(masks)), .buffer(buffer(masks0)), .buffer(flipOut)])
        let maxes = try download(maxOut, count: maxPlan.groups[0], as: T.self)
        let flips = try download(flipOut, count: flipPlan.groups[0], as: UInt32.self)
        return NTKBlockDiagnostics(maxMoveSquared: Double(maxes.max() ?? 0), flips: flips.reduce(0) { $0 + Int($1) })
    }
}

extension InitialWeights {
    var isStored: Bool { if case .stored = self { return true } else { return false } }
}
