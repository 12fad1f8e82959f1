extension OpenCLBackend {
    /// The particle's w and gradient sit in registers, sized at build time.
    static let maxParticleDimension = 256

    public func mfldForward<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, unitScale: T, x: any DeviceBuffer,
                                       particles: any DeviceBuffer, partialF: any DeviceBuffer) throws {
        guard s.batch > 0, s.particles > 0 else { return }
        let tn = OpenCLBackend.forwardSamples, wq = OpenCLBackend.forwardWords
        let opts = try options(T.self, ["-DFWD_TN=\(tn)", "-DFWD_WQ=\(wq)", "-DFWD_KC=\(OpenCLBackend.forwardChunk)",
                                        "-DUNIT=\(unit.code)"])
        let words = (s.particles + 31) / 32, groups = (words + wq - 1) / wq
        let partials = try scratchBuffer("mfld.partials", bytes: groups * s.batch * MemoryLayout<T>.stride)
        try cl.launch(try kernel([.mfld], "mfld_forward", options: opts), global: [s.batch, words], local: [tn, wq],
                      args: [.int(s.batch), .int(s.d), .int(s.particles), .real(unitScale), .buffer(buffer(x)),
                             .buffer(buffer(particles)), .buffer(partials)])
        try sumPartials(partials, n: s.batch, groups: groups, into: buffer(partialF), as: T.self)
    }

    public func mfldUpdate<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, x: any DeviceBuffer, coefficients: any DeviceBuffer,
                                      particles: any DeviceBuffer, extraGradient: (any DeviceBuffer)?,
                                      parameters q: MFLDStepParameters, as: T.Type) throws {
        guard s.particles > 0 else { return }
        guard s.d <= OpenCLBackend.maxParticleDimension else {
            throw BackendError("mfld_update has no OpenCL implementation for d = \(s.d) > \(OpenCLBackend.maxParticleDimension); use --backend cpu")
        }
        guard info.supportsF64 else { throw BackendError("device \(info.deviceName) has no cl_khr_fp64, which the Philox noise needs") }
        let wg = 64
        var opts = try options(T.self, ["-DUPD_WG=\(wg)", "-DUPD_SC=32", "-DUNIT=\(unit.code)", "-DDIM=\(s.d)", "-DWITH_PHILOX"])
        if !opts.contains("USE_FP64") { opts += " -DUSE_FP64" }
        try cl.launch(try kernel([.philox, .mfld], "mfld_update", options: opts), global: [s.particles], local: [wg],
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
        guard s.d <= OpenCLBackend.maxParticleDimension else {
            throw BackendError("mfld_gradient has no OpenCL implementation for d = \(s.d) > \(OpenCLBackend.maxParticleDimension); use --backend cpu")
        }
        let wg = 64
        let opts = try options(T.self, ["-DUPD_WG=\(wg)", "-DUPD_SC=32", "-DUNIT=\(unit.code)", "-DDIM=\(s.d)"])
        try cl.launch(try kernel([.mfld], "mfld_gradient", options: opts), global: [s.particles], local: [wg],
                      args: [.int(s.batch), .int(s.particles), .real(unitScale), .real(scale), .int32(accumulate ? 1 : 0),
                             .buffer(buffer(x)), .buffer(buffer(coefficients)), .buffer(buffer(particles)),
                             .buffer(buffer(gradient))])
    }
}
