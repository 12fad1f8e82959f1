import Foundation

/// ntk.cl and ntk_tiled.cl (forward, partial sums, backward-and-update) against the CPU reference.
extension KernelChecks {
    static let ntkShapes = [NTKBlockShape(n: 37, d: 19, width: 1000), NTKBlockShape(n: 5, d: 3, width: 33),
                            NTKBlockShape(n: 70, d: 40, width: 129), NTKBlockShape(n: 131, d: 67, width: 300)]

    /// The tiles checked: variant 1, this device's default, NVIDIA's defaults (the GPU round's
    /// tiles, checked here before any GPU runs them) and a small odd one.
    static func ntkConfigs(_ gpu: OpenCLBackend, _ precision: Precision) -> [NTKKernelConfig] {
        var out: [NTKKernelConfig] = [.reference, gpu.ntkConfig(precision)]
        out += NTKTuningDatabase.defaults(vendor: "NVIDIA")
        out.append(.tiled(forward: 32, 8, 4, 2, 2, backward: 32, 8, 4, 2, 2))
        var seen = Set<NTKKernelConfig>()
        let limits = gpu.cl.limits
        return out.filter { seen.insert($0).inserted && $0.fits(limits, scalarBytes: precision.bytes) }
    }

    static var ntk: [KernelCheck] {
        [KernelCheck("ntk_forward (v1, v2 tiles) f32/f64") { gpu, cpu, r, rng in
            try bothPrecisions(gpu) { p in
                if p == .f32 { try ntkForward(Float.self, gpu, cpu, &r, &rng) } else { try ntkForward(Double.self, gpu, cpu, &r, &rng) }
            }
         },
         KernelCheck("ntk_backward_update (v1, v2 tiles) f32/f64") { gpu, cpu, r, rng in
            try bothPrecisions(gpu) { p in
                for trainA in [false, true] {
                    if p == .f32 { try ntkBackward(Float.self, trainA, gpu, cpu, &r, &rng) }
                    else { try ntkBackward(Double.self, trainA, gpu, cpu, &r, &rng) }
                }
            }
         },
         KernelCheck("launch slices (dimension 1 cut at 2 groups)") { gpu, cpu, r, rng in
            try slicedLaunches(gpu, cpu, &r, &rng)
         }]
    }

    struct NTKInputs<T: Scalar> { var x: [T], w: [T], a: [T], e: [T] }

    static func ntkInputs<T: Scalar>(_ s: NTKBlockShape, _ rng: inout CheckRNG) -> NTKInputs<T> {
        var x: [T] = rng.normals(s.n * s.d)
        for i in 0..<s.n {   // unit rows, as the model uses
            let row = x[(i * s.d)..<((i + 1) * s.d)].map { Double($0) }
            let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            for k in 0..<s.d { x[i * s.d + k] = T(row[k] / norm) }
        }
        return NTKInputs(x: x, w: rng.normals(s.width * s.d), a: rng.signs(s.width), e: rng.normals(s.n))
    }

    /// Bits whose z is within rounding of 0 may legitimately differ between backends.
    static func ambiguousBits<T: Scalar>(_ s: NTKBlockShape, _ inp: NTKInputs<T>) -> Set<Int> {
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

    /// Compares a forward pass's u and masks with the CPU's: u within the reduction tolerance, every
    /// unambiguous bit equal, the padding bits past the width zero.
    static func compareForward<T: Scalar>(_ s: NTKBlockShape, _ inp: NTKInputs<T>, got: (u: [T], masks: [UInt32]),
                                          ref: (u: [T], masks: [UInt32]), _ what: String, _ r: inout CheckRecorder) {
        let tol = reductionTolerance(T.self, length: s.width + s.d)
        r.close(got.u, ref.u, abs: tol * Double(s.width).squareRoot(), rel: tol, "\(what) u")
        let ambiguous = ambiguousBits(s, inp)
        var wrong = 0, padding = 0
        for i in 0..<s.n {
            for q in 0..<s.width where !ambiguous.contains(i * s.width + q) {
                let word = i * s.words + q / 32
                if (got.masks[word] >> UInt32(q % 32)) & 1 != (ref.masks[word] >> UInt32(q % 32)) & 1 { wrong += 1 }
            }
            if s.width % 32 != 0 && got.masks[i * s.words + s.words - 1] >> UInt32(s.width % 32) != 0 { padding += 1 }
        }
        r.expect(wrong == 0, "\(what): \(wrong) mask bits differ")
        r.expect(padding == 0, "\(what): padding bits set in \(padding) samples")
    }

    /// Runs `body` with the NTK tiles pinned to `config` on an OpenCL backend (the CPU has none).
    static func pinning(_ be: any Backend, _ config: NTKKernelConfig?, _ body: () throws -> Void) throws {
        try be.withNTKTiles(config, body)
    }

    static func runForward<T: Scalar>(_ be: any Backend, _ s: NTKBlockShape, _ inp: NTKInputs<T>,
                                      config: NTKKernelConfig?) throws -> (u: [T], masks: [UInt32]) {
        let masks = try CheckBuffers.poisonedWords(be, count: s.maskWords), u = try CheckBuffers.poisoned(be, count: s.n, as: T.self)
        let x = try CheckBuffers.values(be, inp.x), w = try CheckBuffers.values(be, inp.w), a = try CheckBuffers.values(be, inp.a)
        try pinning(be, config) { try be.ntkForward(s, x: x, w: w, a: a, masks: masks, partialU: u, as: T.self) }
        return (try be.download(u, count: s.n, as: T.self), try be.download(masks, count: s.maskWords, as: UInt32.self))
    }

    static func ntkForward<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                      _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        for s in ntkShapes {
            let inp: NTKInputs<T> = ntkInputs(s, &rng)
            let ref = try runForward(cpu, s, inp, config: nil)
            for c in ntkConfigs(gpu, T.precision) {
                compareForward(s, inp, got: try runForward(gpu, s, inp, config: c), ref: ref,
                               "ntk_forward \(c) \(T.precision) \(s)", &r)
            }
        }
    }

    static func runBackward<T: Scalar>(_ be: any Backend, _ s: NTKBlockShape, _ inp: NTKInputs<T>, masks: [UInt32],
                                       scale: T, trainA: Bool, config: NTKKernelConfig?) throws -> (w: [T], a: [T]) {
        let w = try CheckBuffers.values(be, inp.w), a = try CheckBuffers.values(be, inp.a)
        let x = try CheckBuffers.values(be, inp.x), m = try CheckBuffers.values(be, masks), e = try CheckBuffers.values(be, inp.e)
        try pinning(be, config) {
            try be.ntkBackwardUpdate(s, x: x, w: w, a: a, masks: m, residual: e, scale: scale, trainOutput: trainA)
        }
        return (try be.download(w, count: s.width * s.d, as: T.self), try be.download(a, count: s.width, as: T.self))
    }

    static func ntkBackward<T: Scalar>(_: T.Type, _ trainA: Bool, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                       _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        for s in ntkShapes {
            let inp: NTKInputs<T> = ntkInputs(s, &rng)
            // Masks from the CPU forward feed both updates, so both see the same S.
            let masks = try runForward(cpu, s, inp, config: nil).masks
            let scale = T(0.37)
            let ref = try runBackward(cpu, s, inp, masks: masks, scale: scale, trainA: trainA, config: nil)
            let tol = reductionTolerance(T.self, length: s.n + s.d)
            // The update must move the weights, or the comparison proves nothing.
            r.expect(zip(ref.w, inp.w).contains { $0 != $1 }, "the reference update did not move W")
            for c in ntkConfigs(gpu, T.precision) {
                let got = try runBackward(gpu, s, inp, masks: masks, scale: scale, trainA: trainA, config: c)
                let what = "ntk_backward_update \(c) \(T.precision) trainA=\(trainA) \(s)"
                r.close(got.w, ref.w, abs: tol * Double(s.n).squareRoot(), rel: tol, "\(what) w")
                r.close(got.a, ref.a, abs: tol * Double(s.n).squareRoot(), rel: tol, "\(what) a")
                if !trainA { r.expect(got.a == inp.a, "\(what): a moved without --train-output") }
            }
        }
    }

    /// The forward and backward passes, the Gram kernels and GEMM with dimension 1 cut into slices
    /// of two work-groups, as a device with a small grid would need: the results must not change.
    static func slicedLaunches(_ gpu: OpenCLBackend, _ cpu: CPUBackend, _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        var small = gpu.cl.limits
        small.maxGroups = [small.maxGroups[0], 2, 2]
        gpu.cl.limitsOverride = small
        defer { gpu.cl.limitsOverride = nil }
        let s = NTKBlockShape(n: 70, d: 40, width: 129)
        let inp: NTKInputs<Float> = ntkInputs(s, &rng)
        let ref = try runForward(cpu, s, inp, config: nil)
        let configs: [NTKKernelConfig] = [.reference, .tiled(forward: 32, 8, 4, 2, 2, backward: 32, 8, 4, 2, 2)]
        for c in configs {
            compareForward(s, inp, got: try runForward(gpu, s, inp, config: c), ref: ref, "sliced ntk_forward \(c)", &r)
            let back = try runBackward(cpu, s, inp, masks: ref.masks, scale: 0.37, trainA: true, config: nil)
            let got = try runBackward(gpu, s, inp, masks: ref.masks, scale: 0.37, trainA: true, config: c)
            let tol = reductionTolerance(Float.self, length: s.n + s.d)
            r.close(got.w, back.w, abs: tol * Double(s.n).squareRoot(), rel: tol, "sliced ntk_backward \(c) w")
            r.close(got.a, back.a, abs: tol * Double(s.n).squareRoot(), rel: tol, "sliced ntk_backward \(c) a")
        }
        try gramChecks(Float.self, gpu, cpu, n: 37, &r, &rng, label: "sliced ")
        try gemmCheck(Float.self, GEMMShape(m: 45, n: 19, k: 70), gpu, cpu, configs: [.reference, .tiled(32, 32, 8, 2, 2)],
                      &r, &rng, label: "sliced ")
    }
}
