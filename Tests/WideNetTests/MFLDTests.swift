import Foundation
import Testing
@testable import WideNet

/// mfld.cl (forward, fused noisy update) against the CPU reference for every unit, at particle
/// counts that are not multiples of 32 or of the work-groups, outputs poisoned beforehand.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct MFLDTests {
    static let shapes = [MFLDShape(batch: 37, d: 5, particles: 1001), MFLDShape(batch: 3, d: 20, particles: 70),
                         MFLDShape(batch: 64, d: 1, particles: 33)]

    @Test(arguments: ParticleUnit.allCases, [Precision.f32, .f64])
    func forwardMatchesCPU(unit: ParticleUnit, precision: Precision) throws {
        if precision == .f32 { try forward(Float.self, unit) } else { try forward(Double.self, unit) }
    }

    func forward<T: Scalar>(_: T.Type, _ unit: ParticleUnit) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for s in MFLDTests.shapes {
            let x: [T] = rng.normals(s.batch * s.d), p: [T] = rng.normals(s.particles * s.coordinates)
            var out: [[T]] = []
            for be in [gpu as any Backend, cpu] {
                let f = try poisoned(be, count: s.batch, as: T.self)
                try be.mfldForward(s, unit: unit, unitScale: T(1.5), x: try buffer(be, x), particles: try buffer(be, p), partialF: f)
                out.append(try be.download(f, count: s.batch, as: T.self))
            }
            let tol = reductionTolerance(T.self, length: s.particles + s.d) * 4
            expectClose(out[0], out[1], abs: tol * Double(s.particles).squareRoot(), rel: tol,
                        "mfld_forward \(unit) \(T.precision) \(s)", seed: rng.seed)
        }
    }

    @Test(arguments: ParticleUnit.allCases, [Precision.f32, .f64])
    func updateMatchesCPU(unit: ParticleUnit, precision: Precision) throws {
        if precision == .f32 { try update(Float.self, unit) } else { try update(Double.self, unit) }
    }

    func update<T: Scalar>(_: T.Type, _ unit: ParticleUnit) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for s in MFLDTests.shapes {
            let x: [T] = rng.normals(s.batch * s.d), p: [T] = rng.normals(s.particles * s.coordinates)
            let c: [T] = rng.normals(s.batch, scale: 1 / Double(s.batch))
            for (dataTerm, noise) in [(true, 0.0), (true, 0.3), (false, 0.3)] {
                let params = MFLDStepParameters(learningRate: 0.05, decay: 0.02, noise: noise, dataTerm: dataTerm,
                                                seed: UInt64.random(in: 0...UInt64.max, using: &rng),
                                                step: UInt32.random(in: 0...1000, using: &rng),
                                                offset: UInt64(13 * s.coordinates), unitScale: 1.5)
                var out: [[T]] = []
                for be in [gpu as any Backend, cpu] {
                    let pb = try buffer(be, p)
                    try be.mfldUpdate(s, unit: unit, x: try buffer(be, x), coefficients: try buffer(be, c), particles: pb,
                                      extraGradient: nil, parameters: params, as: T.self)
                    out.append(try be.download(pb, count: p.count, as: T.self))
                }
                let tol = reductionTolerance(T.self, length: s.batch + s.d) * 4
                expectClose(out[0], out[1], abs: tol, rel: tol,
                            "mfld_update \(unit) \(T.precision) data=\(dataTerm) noise=\(noise) \(s)", seed: rng.seed)
                #expect(zip(out[1], p).contains { $0 != $1 }, "the update did not move the particles")
                if !dataTerm {
                    // Decay and noise alone: θ(1 − η·decay) + noise·ξ, ξ the Philox normals, exactly.
                    let xi: [T] = PhiloxGenerator(seed: params.seed).array(count: p.count, offset: params.offset,
                                                                          stream: RandomStream.langevinNoise.rawValue,
                                                                          step: params.step, distribution: .normal, scale: T(1))
                    let expected = zip(p, xi).map { $0 - T(0.05) * (T(0.02) * $0) + T(noise) * $1 }
                    expectClose(out[1], expected, abs: 0, rel: 0, "decay+noise \(T.precision)", seed: rng.seed)
                }
            }
        }
    }

    /// mfld_gradient against the CPU (fresh and accumulated), and the update with an extra gradient
    /// equals θ − η·(data gradient + extra) when decay and noise are off.
    @Test(arguments: ParticleUnit.allCases, [Precision.f32, .f64])
    func gradientMatchesCPUAndTheUpdate(unit: ParticleUnit, precision: Precision) throws {
        if precision == .f32 { try gradient(Float.self, unit) } else { try gradient(Double.self, unit) }
    }

    func gradient<T: Scalar>(_: T.Type, _ unit: ParticleUnit) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for s in MFLDTests.shapes {
            let count = s.particles * s.coordinates
            let x: [T] = rng.normals(s.batch * s.d), p: [T] = rng.normals(count)
            let c: [T] = rng.normals(s.batch, scale: 1 / Double(s.batch)), start: [T] = rng.normals(count)
            var grads: [[T]] = [], updated: [[T]] = []
            for be in [gpu as any Backend, cpu] {
                let xb = try buffer(be, x), cb = try buffer(be, c), pb = try buffer(be, p)
                let g = try poisoned(be, count: count, as: T.self)
                try be.mfldGradient(s, unit: unit, unitScale: T(1.5), x: xb, coefficients: cb, particles: pb, gradient: g,
                                    scale: T(1), accumulate: false)
                let fresh = try be.download(g, count: count, as: T.self)
                let acc = try buffer(be, start)
                try be.mfldGradient(s, unit: unit, unitScale: T(1.5), x: xb, coefficients: cb, particles: pb, gradient: acc,
                                    scale: T(-2), accumulate: true)
                grads.append(fresh + (try be.download(acc, count: count, as: T.self)))
                let params = MFLDStepParameters(learningRate: 0.1, decay: 0, noise: 0, dataTerm: true, seed: 1, step: 1,
                                                offset: 0, unitScale: 1.5)
                try be.mfldUpdate(s, unit: unit, x: xb, coefficients: cb, particles: pb, extraGradient: try buffer(be, start),
                                  parameters: params, as: T.self)
                updated.append(try be.download(pb, count: count, as: T.self))
            }
            let tol = reductionTolerance(T.self, length: s.batch + s.d) * 4
            expectClose(grads[0], grads[1], abs: tol, rel: tol, "mfld_gradient \(unit) \(T.precision) \(s)", seed: rng.seed)
            expectClose(updated[0], updated[1], abs: tol, rel: tol, "mfld_update+extra \(unit) \(T.precision)", seed: rng.seed)
            // θ − η(g + extra) from the CPU's own gradient.
            let expected = (0..<count).map { p[$0] - T(0.1) * (grads[1][$0] + start[$0]) }
            expectClose(updated[1], expected, abs: tol, rel: tol, "update = θ − η(g + extra)", seed: rng.seed)
        }
    }

    @Test(arguments: [Precision.f32, .f64])
    func sumSquaresMatchesCPU(precision: Precision) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for count in [1, 1000, 200_001] {
            let v: [Double] = rng.normals(count)
            let exact = v.reduce(0) { $0 + $1 * $1 }
            if precision == .f32 {
                let f = v.map { Float($0) }
                let g = try gpu.sumSquares(try buffer(gpu, f), count: count, as: Float.self)
                let c = try cpu.sumSquares(try buffer(cpu, f), count: count, as: Float.self)
                expectClose([g, c], [exact, exact], abs: 0, rel: 1e-5, "sum_squares f32 \(count)", seed: rng.seed)
            } else {
                let g = try gpu.sumSquares(try buffer(gpu, v), count: count, as: Double.self)
                let c = try cpu.sumSquares(try buffer(cpu, v), count: count, as: Double.self)
                expectClose([g, c], [exact, exact], abs: 0, rel: 1e-12, "sum_squares f64 \(count)", seed: rng.seed)
            }
        }
    }
}
