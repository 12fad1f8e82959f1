import Foundation

/// mfld.cl (forward, fused noisy update, gradient) against the CPU reference for every unit.
extension KernelChecks {
    static let mfldShapes = [MFLDShape(batch: 37, d: 5, particles: 1001), MFLDShape(batch: 3, d: 20, particles: 70),
                             MFLDShape(batch: 64, d: 1, particles: 33)]

    /// Runs `body` for each precision the device has, every unit and every check shape.
    static func everyUnitAndShape(_ gpu: OpenCLBackend, _ body: (Precision, ParticleUnit, MFLDShape) throws -> Void) throws {
        try bothPrecisions(gpu) { p in
            for unit in ParticleUnit.allCases { for s in mfldShapes { try body(p, unit, s) } }
        }
    }

    static var mfld: [KernelCheck] {
        [KernelCheck("mfld_forward, 3 units f32/f64") { gpu, cpu, r, rng in
            try everyUnitAndShape(gpu) { p, unit, s in
                if p == .f32 { try mfldForward(Float.self, unit, s, gpu, cpu, &r, &rng) }
                else { try mfldForward(Double.self, unit, s, gpu, cpu, &r, &rng) }
            }
         },
         KernelCheck("mfld_update (gradient, decay, Philox noise)") { gpu, cpu, r, rng in
            try everyUnitAndShape(gpu) { p, unit, s in
                if p == .f32 { try mfldUpdate(Float.self, unit, s, gpu, cpu, &r, &rng) }
                else { try mfldUpdate(Double.self, unit, s, gpu, cpu, &r, &rng) }
            }
         },
         KernelCheck("mfld_gradient and the SVRG update") { gpu, cpu, r, rng in
            try everyUnitAndShape(gpu) { p, unit, s in
                if p == .f32 { try mfldGradient(Float.self, unit, s, gpu, cpu, &r, &rng) }
                else { try mfldGradient(Double.self, unit, s, gpu, cpu, &r, &rng) }
            }
         },
         KernelCheck("mfld_update at d=200 within 48 KB of local memory") { gpu, cpu, r, rng in
            // A 48 KB device stages fewer samples at a time (UPD_SC = 16 in f64); the result must not change.
            var small = gpu.cl.limits
            small.localMemBytes = min(small.localMemBytes, 48 * 1024)
            gpu.cl.limitsOverride = small
            defer { gpu.cl.limitsOverride = nil }
            let s = MFLDShape(batch: 45, d: 200, particles: 77)
            try bothPrecisions(gpu) { p in
                if p == .f32 { try mfldUpdate(Float.self, .tanh, s, gpu, cpu, &r, &rng) }
                else { try mfldUpdate(Double.self, .tanh, s, gpu, cpu, &r, &rng) }
            }
            r.expect(LaunchPlans.updateSamples(d: s.d, scalar: 8, limits: small, gpu.mfldConfig) < gpu.mfldConfig.stagedSamples,
                     "the staged batch was not reduced")
         }]
    }

    static func mfldForward<T: Scalar>(_: T.Type, _ unit: ParticleUnit, _ s: MFLDShape, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                       _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let x: [T] = rng.normals(s.batch * s.d), p: [T] = rng.normals(s.particles * s.coordinates)
        var out: [[T]] = []
        for be in [gpu as any Backend, cpu] {
            let f = try CheckBuffers.poisoned(be, count: s.batch, as: T.self)
            try be.mfldForward(s, unit: unit, unitScale: T(1.5), x: try CheckBuffers.values(be, x),
                               particles: try CheckBuffers.values(be, p), partialF: f)
            out.append(try be.download(f, count: s.batch, as: T.self))
        }
        let tol = reductionTolerance(T.self, length: s.particles + s.d) * 4
        r.close(out[0], out[1], abs: tol * Double(s.particles).squareRoot(), rel: tol, "mfld_forward \(unit) \(T.precision) \(s)")
    }

    static func mfldUpdate<T: Scalar>(_: T.Type, _ unit: ParticleUnit, _ s: MFLDShape, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                      _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let x: [T] = rng.normals(s.batch * s.d), p: [T] = rng.normals(s.particles * s.coordinates)
        let c: [T] = rng.normals(s.batch, scale: 1 / Double(s.batch))
        for (dataTerm, noise) in [(true, 0.0), (true, 0.3), (false, 0.3)] {
            let params = MFLDStepParameters(learningRate: 0.05, decay: 0.02, noise: noise, dataTerm: dataTerm,
                                            seed: rng.next(), step: UInt32.random(in: 0...1000, using: &rng),
                                            offset: UInt64(13 * s.coordinates), unitScale: 1.5)
            var out: [[T]] = []
            for be in [gpu as any Backend, cpu] {
                let pb = try CheckBuffers.values(be, p)
                try be.mfldUpdate(s, unit: unit, x: try CheckBuffers.values(be, x), coefficients: try CheckBuffers.values(be, c),
                                  particles: pb, extraGradient: nil, parameters: params, as: T.self)
                out.append(try be.download(pb, count: p.count, as: T.self))
            }
            let tol = reductionTolerance(T.self, length: s.batch + s.d) * 4
            let what = "mfld_update \(unit) \(T.precision) data=\(dataTerm) noise=\(noise) \(s)"
            r.close(out[0], out[1], abs: tol, rel: tol, what)
            r.expect(zip(out[1], p).contains { $0 != $1 }, "\(what): the update did not move the particles")
            if !dataTerm {
                // Decay and noise alone: θ(1 − η·decay) + noise·ξ, ξ the Philox normals, exactly on the CPU.
                let xi: [T] = PhiloxGenerator(seed: params.seed).array(count: p.count, offset: params.offset,
                                                                      stream: RandomStream.langevinNoise.rawValue,
                                                                      step: params.step, distribution: .normal, scale: T(1))
                let expected = zip(p, xi).map { $0 - T(0.05) * (T(0.02) * $0) + T(noise) * $1 }
                r.close(out[1], expected, abs: 0, rel: 0, "decay+noise \(T.precision) (CPU, exact)")
                r.close(out[0], expected, abs: tol, rel: tol, "decay+noise \(T.precision) (OpenCL)")
            }
        }
    }

    /// mfld_gradient (fresh and accumulated) against the CPU, and the update with an extra gradient
    /// equal to θ − η·(data gradient + extra) when decay and noise are off.
    static func mfldGradient<T: Scalar>(_: T.Type, _ unit: ParticleUnit, _ s: MFLDShape, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                        _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let count = s.particles * s.coordinates
        let x: [T] = rng.normals(s.batch * s.d), p: [T] = rng.normals(count)
        let c: [T] = rng.normals(s.batch, scale: 1 / Double(s.batch)), start: [T] = rng.normals(count)
        var grads: [[T]] = [], updated: [[T]] = []
        for be in [gpu as any Backend, cpu] {
            let xb = try CheckBuffers.values(be, x), cb = try CheckBuffers.values(be, c), pb = try CheckBuffers.values(be, p)
            let g = try CheckBuffers.poisoned(be, count: count, as: T.self)
            try be.mfldGradient(s, unit: unit, unitScale: T(1.5), x: xb, coefficients: cb, particles: pb, gradient: g,
                                scale: T(1), accumulate: false)
            let fresh = try be.download(g, count: count, as: T.self)
            let acc = try CheckBuffers.values(be, start)
            try be.mfldGradient(s, unit: unit, unitScale: T(1.5), x: xb, coefficients: cb, particles: pb, gradient: acc,
                                scale: T(-2), accumulate: true)
            grads.append(fresh + (try be.download(acc, count: count, as: T.self)))
            let params = MFLDStepParameters(learningRate: 0.1, decay: 0, noise: 0, dataTerm: true, seed: 1, step: 1,
                                            offset: 0, unitScale: 1.5)
            try be.mfldUpdate(s, unit: unit, x: xb, coefficients: cb, particles: pb, extraGradient: try CheckBuffers.values(be, start),
                              parameters: params, as: T.self)
            updated.append(try be.download(pb, count: count, as: T.self))
        }
        let tol = reductionTolerance(T.self, length: s.batch + s.d) * 4
        r.close(grads[0], grads[1], abs: tol, rel: tol, "mfld_gradient \(unit) \(T.precision) \(s)")
        r.close(updated[0], updated[1], abs: tol, rel: tol, "mfld_update+extra \(unit) \(T.precision) \(s)")
        let expected = (0..<count).map { p[$0] - T(0.1) * (grads[1][$0] + start[$0]) }
        r.close(updated[1], expected, abs: tol, rel: tol, "update = θ − η(g + extra) \(unit) \(T.precision)")
    }
}
