import Foundation
import Testing
@testable import WideNet

/// ntk.cl (forward, partial-sum reduction, backward-and-update) against the CPU reference,
/// at widths that are not multiples of 32 (a mask word), of the CPU chunk (512) or the work-groups.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct NTKTests {
    static let shapes = [NTKBlockShape(n: 37, d: 19, width: 1000), NTKBlockShape(n: 5, d: 3, width: 33),
                         NTKBlockShape(n: 70, d: 40, width: 129)]

    struct Inputs<T: Scalar> { var x: [T], w: [T], a: [T], e: [T] }

    static func inputs<T: Scalar>(_ s: NTKBlockShape, _ rng: inout TestRNG) -> Inputs<T> {
        var x: [T] = rng.normals(s.n * s.d)
        for i in 0..<s.n {   // unit rows, as the model uses
            let row = x[(i * s.d)..<((i + 1) * s.d)].map { Double($0) }
            let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            for k in 0..<s.d { x[i * s.d + k] = T(row[k] / norm) }
        }
        return Inputs(x: x, w: rng.normals(s.width * s.d), a: rng.signs(s.width), e: rng.normals(s.n))
    }

    /// Bits whose z is within rounding of 0 may legitimately differ between backends.
    static func ambiguousBits<T: Scalar>(_ s: NTKBlockShape, _ inp: Inputs<T>) -> Set<Int> {
        var out = Set<Int>()
        for i in 0..<s.n {
            for r in 0..<s.width {
                var z = 0.0, mag = 0.0
                for k in 0..<s.d {
                    z += Double(inp.x[i * s.d + k]) * Double(inp.w[r * s.d + k])
                    mag += abs(Double(inp.x[i * s.d + k]) * Double(inp.w[r * s.d + k]))
                }
                if abs(z) <= mag * reductionTolerance(T.self, length: s.d) { out.insert(i * s.width + r) }
            }
        }
        return out
    }

    @Test(arguments: [Precision.f32, .f64])
    func forwardMatchesCPU(precision: Precision) throws {
        if precision == .f32 { try forward(Float.self) } else { try forward(Double.self) }
    }

    func forward<T: Scalar>(_: T.Type) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for s in NTKTests.shapes {
            let inp: Inputs<T> = NTKTests.inputs(s, &rng)
            var results: [(u: [T], masks: [UInt32])] = []
            for be in [gpu as any Backend, cpu] {
                let masks = try poisonedWords(be, count: s.maskWords), u = try poisoned(be, count: s.n, as: T.self)
                try be.ntkForward(s, x: try buffer(be, inp.x), w: try buffer(be, inp.w), a: try buffer(be, inp.a),
                                  masks: masks, partialU: u, as: T.self)
                results.append((try be.download(u, count: s.n, as: T.self), try be.download(masks, count: s.maskWords, as: UInt32.self)))
            }
            // u is a sum of `width` terms of size ~√d: tolerance scales with the reduction length.
            let tol = reductionTolerance(T.self, length: s.width + s.d)
            expectClose(results[0].u, results[1].u, abs: tol * Double(s.width).squareRoot(), rel: tol,
                        "ntk_forward u \(T.precision) \(s)", seed: rng.seed)
            let ambiguous = NTKTests.ambiguousBits(s, inp)
            var wrong = 0
            for i in 0..<s.n {
                for r in 0..<s.width where !ambiguous.contains(i * s.width + r) {
                    let q = i * s.words + r / 32
                    if (results[0].masks[q] >> UInt32(r % 32)) & 1 != (results[1].masks[q] >> UInt32(r % 32)) & 1 { wrong += 1 }
                }
                // Padding bits past the width must be zero on both.
                if s.width % 32 != 0 {
                    let last = results[0].masks[i * s.words + s.words - 1]
                    #expect(last >> UInt32(s.width % 32) == 0, "padding bits set in sample \(i)")
                }
            }
            #expect(wrong == 0, "\(wrong) mask bits differ (\(T.precision) \(s), seed \(rng.seed))")
        }
    }

    @Test(arguments: [Precision.f32, .f64], [false, true])
    func backwardUpdateMatchesCPU(precision: Precision, trainOutput: Bool) throws {
        if precision == .f32 { try backward(Float.self, trainOutput) } else { try backward(Double.self, trainOutput) }
    }

    func backward<T: Scalar>(_: T.Type, _ trainOutput: Bool) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        for s in NTKTests.shapes {
            let inp: Inputs<T> = NTKTests.inputs(s, &rng)
            // Masks from the CPU forward feed both updates, so both see the same S.
            let cm = try cpu.allocate(bytes: s.maskWords * 4)
            try cpu.ntkForward(s, x: try buffer(cpu, inp.x), w: try buffer(cpu, inp.w), a: try buffer(cpu, inp.a),
                               masks: cm, partialU: try cpu.allocate(bytes: s.n * 8), as: T.self)
            let masks = try cpu.download(cm, count: s.maskWords, as: UInt32.self)
            let scale = T(0.37)
            var out: [(w: [T], a: [T])] = []
            for be in [gpu as any Backend, cpu] {
                let w = try buffer(be, inp.w), a = try buffer(be, inp.a)
                try be.ntkBackwardUpdate(s, x: try buffer(be, inp.x), w: w, a: a, masks: try buffer(be, masks),
                                         residual: try buffer(be, inp.e), scale: scale, trainOutput: trainOutput)
                out.append((try be.download(w, count: s.width * s.d, as: T.self), try be.download(a, count: s.width, as: T.self)))
            }
            let tol = reductionTolerance(T.self, length: s.n + s.d)
            expectClose(out[0].w, out[1].w, abs: tol * Double(s.n).squareRoot(), rel: tol,
                        "ntk_backward_update w \(T.precision) trainA=\(trainOutput) \(s)", seed: rng.seed)
            expectClose(out[0].a, out[1].a, abs: tol * Double(s.n).squareRoot(), rel: tol,
                        "ntk_backward_update a \(T.precision) trainA=\(trainOutput) \(s)", seed: rng.seed)
            // The update must have moved the weights (a test that cannot fail is no test).
            #expect(zip(out[0].w, inp.w).contains { $0 != $1 })
            if trainOutput { #expect(zip(out[0].a, inp.a).contains { $0 != $1 }) } else { #expect(out[0].a == inp.a) }
        }
    }
}

/// reduce.cl (maximum weight movement, with stored or regenerated w0, and mask flips) against the
/// CPU reference and a direct computation.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct ReduceTests {
    @Test(arguments: [Precision.f32, .f64])
    func diagnosticsMatchCPU(precision: Precision) throws {
        if precision == .f32 { try check(Float.self) } else { try check(Double.self) }
    }

    func check<T: Scalar>(_: T.Type) throws {
        let gpu = try TestDevices.backend(), cpu = CPUBackend()
        var rng = TestRNG()
        // 40000 neurons: more than the reduction grid (256 groups × 128), so the strided loop runs.
        for s in [NTKBlockShape(n: 13, d: 7, width: 40_001), NTKBlockShape(n: 3, d: 2, width: 5)] {
            let w: [T] = rng.normals(s.width * s.d), w0: [T] = rng.normals(s.width * s.d)
            let m = (0..<s.maskWords).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
            let m0 = (0..<s.maskWords).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
            let g = try gpu.ntkDiagnostics(s, w: try buffer(gpu, w), initial: .stored(try buffer(gpu, w0)),
                                           masks: try buffer(gpu, m), masks0: try buffer(gpu, m0), as: T.self)
            let c = try cpu.ntkDiagnostics(s, w: try buffer(cpu, w), initial: .stored(try buffer(cpu, w0)),
                                           masks: try buffer(cpu, m), masks0: try buffer(cpu, m0), as: T.self)
            #expect(g.flips == c.flips, "mask_flips \(g.flips) vs \(c.flips) (seed \(rng.seed))")
            let expectedFlips = zip(m, m0).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
            #expect(c.flips == expectedFlips)
            let direct = (0..<s.width).map { r in
                (0..<s.d).reduce(0.0) { acc, k in
                    let v = Double(w[r * s.d + k]) - Double(w0[r * s.d + k]); return acc + v * v
                }
            }.max() ?? 0
            expectClose([g.maxMoveSquared, c.maxMoveSquared], [direct, direct], abs: 0,
                        rel: reductionTolerance(T.self, length: s.d), "max_move_sq \(T.precision)", seed: rng.seed)

            // max_move_sq_philox: the same with w0 regenerated from the hidden-weight stream at an
            // offset (a block that starts inside the width), against w0 generated explicitly.
            let seed = UInt64.random(in: 0...UInt64.max, using: &rng), offset = UInt64(37 * s.d), scale = 0.7
            let regenerated: [T] = PhiloxGenerator(seed: seed).array(count: s.width * s.d, offset: offset,
                                                                       stream: RandomStream.hiddenWeights.rawValue, step: 0,
                                                                       distribution: .normal, scale: T(scale))
            let initial = InitialWeights.philox(seed: seed, offset: offset, scale: scale)
            let gp = try gpu.ntkDiagnostics(s, w: try buffer(gpu, w), initial: initial, masks: try buffer(gpu, m),
                                            masks0: try buffer(gpu, m0), as: T.self)
            let cp = try cpu.ntkDiagnostics(s, w: try buffer(cpu, w), initial: initial, masks: try buffer(cpu, m),
                                            masks0: try buffer(cpu, m0), as: T.self)
            let cs = try cpu.ntkDiagnostics(s, w: try buffer(cpu, w), initial: .stored(try buffer(cpu, regenerated)),
                                            masks: try buffer(cpu, m), masks0: try buffer(cpu, m0), as: T.self)
            expectClose([gp.maxMoveSquared, cp.maxMoveSquared], [cs.maxMoveSquared, cs.maxMoveSquared], abs: 0,
                        rel: reductionTolerance(T.self, length: s.d), "max_move_sq_philox \(T.precision)", seed: rng.seed)
        }
    }
}
