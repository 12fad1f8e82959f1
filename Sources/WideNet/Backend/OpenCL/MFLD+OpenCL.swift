extension OpenCLBackend {
    /// The particle's w and gradient sit in registers, sized at build time.
    static let maxParticleDimension = 256

    public func mfldForward<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, unitScale: T, x: any DeviceBuffer,
                                       particles: any DeviceBuffer, partialF: any DeviceBuffer) throws {
        guard s.batch > 0, s.particles > 0 else { return }
        let plan = LaunchPlans.mfldForward(s, scalar: T.precision.bytes)
        let opts = try options(T.self, LaunchPlans.rowtileDefines + ["-DUNIT=\(unit.code)"])
        let groups = LaunchPlans.partialGroups(plan)
        let partials = try scratchBuffer("mfld.partials", bytes: groups * s.batch * MemoryLayout<T>.stride)
        try cl.launch(try kernel([.mfld], plan.kernel, options: opts), plan,
                      args: [.int(s.batch), .int(s.d), .int(s.particles), .real(unitScale), .buffer(buffer(x)),
                             .buffer(buffer(particles)), .buffer(partials)])
        try sumPartials(partials, n: s.batch, groups: groups, into: buffer(partialF), as: T.self)
    }

    /// Build options of mfld_update and mfld_gradient: the staged batch chunk fits this device's local memory.
    private func updateOptions<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, as: T.Type, philox: Bool) throws -> String {
        guard s.d <= OpenCLBackend.maxParticleDimension else {
            throw BackendError("the MFLD update kernels have no OpenCL implementation for d = \(s.d) > "
                + "\(OpenCLBackend.maxParticleDimension); use --backend cpu")
        }
        let sc = LaunchPlans.updateSamples(d: s.d, scalar: T.precision.bytes, limits: cl.limits, mfldConfig)
        return try options(T.self, ["-DUPD_WG=\(mfldConfig.updateGroup)", "-DUPD_SC=\(sc)", "-DUNIT=\(unit.code)",
                                    "-DDIM=\(s.d)"] + (philox ? ["-DWITH_PHILOX"] : []))
    }

    public func mfldUpdate<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, x: any DeviceBuffer, coefficients: any DeviceBuffer,
                                      particles: any DeviceBuffer, extraGradient: (any DeviceBuffer)?,
                                      parameters q: MFLDStepParameters, as: T.Type) throws {
        guard s.particles > 0 else { return }
        let opts = try updateOptions(s, unit: unit, as: T.self, philox: true)
        let plan = LaunchPlans.mfldUpdate("mfld_update", s, scalar: T.precision.bytes, limits: cl.limits, mfldConfig)
        try cl.launch(try kernel([.philox, .mfld], plan.kernel, options: opts), plan,
                      args: [.int(s.batch), .int(s.particles), .real(T(q.unitScale)), .real(T(q.learningRate)),
                             .real(T(q.decay)), .real(T(q.noise)), .int32(q.dataTerm ? 1 : 0),
                             .buffer(buffer(x)), .buffer(buffer(coefficients)), .buffer(buffer(particles)),
                             .uint32(UInt32(truncatingIfNeeded: q.offset)), .uint32(UInt32(truncatingIfNeeded: q.offset >> 32)),
                             .uint32(UInt32(truncatingIfNeeded: q.seed)), .uint32(UInt32(truncatingIfNeeded: q.seed >> 32)),
                             .uint32(q.step), .int32(extraGradient == nil ? 0 : 1),
                             .buffer(buffer(extraGradient ?? particles))])
    }

    public func mfldGradient<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, unitScale: T, x: any DeviceBuffer,
                                        coefficients: any DeviceBuffer, particles: any DeviceBuffer, gradient: any DeviceBuffer,
                                        scale: T, accumulate: Bool) throws {
        guard s.particles > 0 else { return }
        let opts = try updateOptions(s, unit: unit, as: T.self, philox: false)
        let plan = LaunchPlans.mfldUpdate("mfld_gradient", s, scalar: T.precision.bytes, limits: cl.limits, mfldConfig)
        try cl.launch(try kernel([.mfld], plan.kernel, options: opts), plan,
                      args: [.int(s.batch), .int(s.particles), .real(unitScale), .real(scale), .int32(accumulate ? 1 : 0),
                             .buffer(buffer(x)), .buffer(buffer(coefficients)), .buffer(buffer(particles)),
                             .buffer(buffer(gradient))])
    }
}
