import Foundation
import WideNetKernels

/// gemm.cl, philox.cl, gram.cl and reduce.cl against the CPU reference, and the launch plans'
/// local-memory figures against the compiler's.
extension KernelChecks {
    static let gemmShapes: [(Int, Int, Int)] = [(1, 1, 1), (17, 33, 5), (45, 19, 70), (64, 3, 129), (130, 67, 33)]

    static func gemmConfigs(_ gpu: OpenCLBackend, _ precision: Precision) -> [GEMMKernelConfig] {
        // The reference, this device's tiles, NVIDIA's (checked here before a GPU runs them) and a small odd one.
        var out: [GEMMKernelConfig] = [.reference, gpu.gemmConfig(precision), .tiled(32, 32, 8, 2, 2)]
            + GEMMTuningDatabase.defaults(vendor: "NVIDIA").prefix(1)
        var seen = Set<GEMMKernelConfig>()
        out = out.filter { seen.insert($0).inserted && $0.fits(gpu.cl.device.info, scalarBytes: precision.bytes) }
        return out
    }

    static var core: [KernelCheck] {
        var checks: [KernelCheck] = []
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            checks.append(KernelCheck("gemm tA=\(ta ? 1 : 0) tB=\(tb ? 1 : 0) f32/f64, every tile") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    for (m, n, k) in gemmShapes {
                        let s = GEMMShape(transA: ta, transB: tb, m: m, n: n, k: k)
                        if p == .f32 { try gemmCheck(Float.self, s, gpu, cpu, configs: gemmConfigs(gpu, p), &r, &rng) }
                        else { try gemmCheck(Double.self, s, gpu, cpu, configs: gemmConfigs(gpu, p), &r, &rng) }
                    }
                }
            })
        }
        checks += [
            KernelCheck("philox_fill bit-identical, 3 laws f32/f64") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    for law in [RandomDistribution.normal, .uniform, .rademacher] {
                        if p == .f32 { try philoxCheck(Float.self, law, gpu, cpu, &r, &rng) }
                        else { try philoxCheck(Double.self, law, gpu, cpu, &r, &rng) }
                    }
                }
            },
            KernelCheck("mask_gram, arccos_gram (H∞) f32/f64") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    for n in [23, 1] {
                        if p == .f32 { try gramChecks(Float.self, gpu, cpu, n: n, &r, &rng) }
                        else { try gramChecks(Double.self, gpu, cpu, n: n, &r, &rng) }
                    }
                }
            },
            KernelCheck("arccos_product (matrix-free H∞·V) f32/f64") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    // d = 40 000 stages only the norms and V: one row of d passes half the local memory (PoCL's 512 KB too).
                    for (n, d, b) in [(1, 3, 1), (67, 11, 5), (203, 4, 16), (5, 40_000, 2)] {
                        if p == .f32 { try arcCosineProductCheck(Float.self, gpu, cpu, n: n, d: d, vectors: b, &r, &rng) }
                        else { try arcCosineProductCheck(Double.self, gpu, cpu, n: n, d: d, vectors: b, &r, &rng) }
                    }
                }
            },
            KernelCheck("reductions: sum_squares, max_move, flips") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    if p == .f32 { try reductionChecks(Float.self, gpu, cpu, &r, &rng) }
                    else { try reductionChecks(Double.self, gpu, cpu, &r, &rng) }
                }
            },
            KernelCheck("running_mean f32/f64, the tail untouched") { gpu, cpu, r, rng in
                try bothPrecisions(gpu) { p in
                    if p == .f32 { try runningMeanChecks(Float.self, gpu, cpu, &r, &rng) }
                    else { try runningMeanChecks(Double.self, gpu, cpu, &r, &rng) }
                }
            },
            KernelCheck("plans: local memory as the compiler reports") { gpu, _, r, _ in
                try localMemoryCheck(gpu, &r)
            },
            KernelCheck("fused multiply-add after philox.cl") { gpu, _, r, _ in
                try contractionCheck(gpu, &r)
            },
        ]
        return checks
    }

    static func gemmCheck<T: Scalar>(_: T.Type, _ s: GEMMShape, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                     configs: [GEMMKernelConfig], _ r: inout CheckRecorder, _ rng: inout CheckRNG,
                                     label: String = "") throws {
        let a: [T] = rng.normals(s.m * s.k), b: [T] = rng.normals(s.k * s.n), c0: [T] = rng.normals(s.m * s.n)
        for (alpha, beta) in [(T(1), T(0)), (T(-0.75), T(0.5))] {
            let cc = try CheckBuffers.values(cpu, c0)
            try cpu.gemm(s, try CheckBuffers.values(cpu, a), try CheckBuffers.values(cpu, b), cc, alpha: alpha, beta: beta)
            let ref = try cpu.download(cc, count: s.m * s.n, as: T.self)
            let tol = reductionTolerance(T.self, length: s.k)
            for config in configs {
                // β = 0 must ignore C entirely, so the device's C starts poisoned with NaN.
                let cg = beta == 0 ? try CheckBuffers.poisoned(gpu, count: s.m * s.n, as: T.self) : try CheckBuffers.values(gpu, c0)
                try gpu.gemm(s, try CheckBuffers.values(gpu, a), try CheckBuffers.values(gpu, b), cg, alpha: alpha, beta: beta,
                             config: config)
                r.close(try gpu.download(cg, count: s.m * s.n, as: T.self), ref, abs: tol * Double(s.k).squareRoot(), rel: tol,
                        "\(label)gemm \(config) \(T.precision) tA=\(s.transA) tB=\(s.transB) \(s.m)x\(s.n)x\(s.k) β=\(beta)")
            }
        }
    }

    static func philoxCheck<T: Scalar>(_: T.Type, _ law: RandomDistribution, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                       _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let seed = rng.next()
        // Odd offsets and counts cut groups of four at both ends; one offset crosses group 2^32.
        for (offset, count) in [(UInt64(13), 10_007), (UInt64(1 << 34) - 5, 21), (UInt64(0), 1)] {
            let stream = UInt32.random(in: 1...7, using: &rng), step = UInt32.random(in: 0...UInt32.max, using: &rng)
            let scale = T(Double.random(in: 0.1...3, using: &rng))
            var got: [[T]] = []
            for be in [gpu as any Backend, cpu] {
                let out = try CheckBuffers.poisoned(be, count: count, as: T.self)
                try be.fillRandom(out, count: count, offset: offset, seed: seed, stream: stream, step: step,
                                  distribution: law, scale: scale)
                got.append(try be.download(out, count: count, as: T.self))
            }
            r.identical(got[0], got[1], "philox_fill \(T.precision) \(law) offset \(offset)")
            r.expect(got[1].allSatisfy { $0.isFinite }, "philox_fill \(T.precision) \(law): non-finite values")
        }
    }

    static func gramChecks<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend, n: Int,
                                      _ r: inout CheckRecorder, _ rng: inout CheckRNG, label: String = "") throws {
        let s = NTKBlockShape(n: n, d: 1, width: 1001)
        let masks = rng.words(s.maskWords)
        // Nonzero starting counts: the kernel accumulates across blocks.
        let start = (0..<(n * n)).map { _ in UInt32.random(in: 0...1000, using: &rng) }
        var got: [[UInt32]] = []
        for be in [gpu as any Backend, cpu] {
            let counts = try CheckBuffers.values(be, start)
            try be.maskGram(s, masks: try CheckBuffers.values(be, masks), counts: counts)
            got.append(try be.download(counts, count: n * n, as: UInt32.self))
        }
        r.identical(got[0], got[1], "\(label)mask_gram n=\(n)")
        // One entry computed directly, so the reference itself is checked.
        let i = n - 1, j = 0
        let direct = (0..<s.words).reduce(0) { $0 + (masks[i * s.words + $1] & masks[j * s.words + $1]).nonzeroBitCount }
        r.expect(got[1][i * n + j] == start[i * n + j] + UInt32(direct), "\(label)mask_gram: CPU entry (\(i), \(j)) is off")

        let d = 11
        let x = SyntheticData.unitRows(rng.normals(n * d, as: Double.self), n: n, d: d).map { T($0) }
        var out: [[T]] = []
        for be in [gpu as any Backend, cpu] {
            let h = try CheckBuffers.poisoned(be, count: n * n, as: T.self)
            try be.arcCosineGram(x: try CheckBuffers.values(be, x), n: n, d: d, out: h, as: T.self)
            out.append(try be.download(h, count: n * n, as: T.self))
        }
        // acos near ±1 amplifies rounding of g by 1/√(1−g²); the diagonal sits exactly there.
        let tol = T.precision == .f32 ? 2e-4 : 1e-11
        r.close(out[0], out[1], abs: tol, rel: tol, "\(label)arccos_gram \(T.precision) n=\(n)")
    }

    /// H∞·V recomputed on the device against the CPU reference (ArcCosineTiles) and, in f64, against
    /// InfiniteWidthKernel's stored H∞ times V; rows of several norms, one repeated and one antipodal
    /// (both of the kernel's forms), n not a multiple of the group or the staged columns, Y poisoned.
    static func arcCosineProductCheck<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend, n: Int, d: Int, vectors b: Int,
                                                 _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        var x = rng.normals(n * d, as: Double.self)
        for i in 0..<n {
            let scale = Double.random(in: 0.3...2, using: &rng)
            for k in 0..<d { x[i * d + k] *= scale }
        }
        if n > 2 {
            for k in 0..<d { x[(n - 1) * d + k] = x[k]; x[(n - 2) * d + k] = -0.5 * x[d + k] }
        }
        let tiles = ArcCosineTiles(x: x, n: n, d: d)
        let unit = tiles.unit.map { T($0) }, norms = tiles.norms.map { T($0) }, v: [T] = rng.normals(b * n)
        var got: [[T]] = []
        for be in [gpu as any Backend, cpu] {
            let y = try CheckBuffers.poisoned(be, count: b * n, as: T.self)
            try be.arcCosineProduct(unit: try CheckBuffers.values(be, unit), norms: try CheckBuffers.values(be, norms), n: n, d: d,
                                    v: try CheckBuffers.values(be, v), vectors: b, out: y, as: T.self)
            got.append(try be.download(y, count: b * n, as: T.self))
        }
        // Sums of n terms of size ‖x_i‖‖x_j‖|v_j| ≲ 4·|v|: the reductions' tolerance over n, scaled.
        let tol = reductionTolerance(T.self, length: max(n, d)) * 8
        r.close(got[0], got[1], abs: tol * Double(n).squareRoot(), rel: tol, "arccos_product \(T.precision) n=\(n) d=\(d) b=\(b)")
        if T.precision == .f64 {
            let h = try InfiniteWidthKernel(x: x, n: n, d: d).matrix
            let want = (0..<(b * n)).map { q in (0..<n).reduce(0.0) { $0 + h[(q % n) * n + $1] * Double(v[(q / n) * n + $1]) } }
            r.close(got[1].map { Double($0) }, want, abs: 1e-13 * Double(n), rel: 1e-12, "arccos_product CPU reference n=\(n) against H∞·V")
        }
    }

    /// mean + c·(x − mean) against the formula in f64, on a buffer longer than `count` whose tail is
    /// poisoned: the tail must come back bit for bit. 40 001 and 70 003 pass the fixed grid (256 × 128).
    static func runningMeanChecks<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                             _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        for count in [1, 77, 40_001, 70_003] {
            let tail = 5
            let mean0: [T] = rng.normals(count) + [T](repeating: .nan, count: tail), x: [T] = rng.normals(count)
            let c = T(1) / T(3 + count % 7)
            let want = (0..<count).map { Double(mean0[$0]) + Double(c) * (Double(x[$0]) - Double(mean0[$0])) }
            for be in [gpu as any Backend, cpu] {
                let mean = try CheckBuffers.values(be, mean0)
                try be.runningMean(mean, toward: try CheckBuffers.values(be, x), count: count, weight: c)
                let got = try be.download(mean, count: count + tail, as: T.self)
                // Three roundings of values of order |mean| + |x| (a few units for normals); a fused multiply-add is one fewer.
                let eps = Double(T.ulpOfOne)
                r.close(got[0..<count].map(Double.init), want, abs: 4 * eps * 16, rel: 4 * eps,
                        "running_mean \(be.info.kind) \(T.precision) \(count)")
                r.identical(Array(got[count...]), Array(mean0[count...]), "running_mean \(be.info.kind) \(T.precision) \(count): tail untouched")
            }
        }
    }

    static func reductionChecks<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                           _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        for count in [1, 1000, 200_001] {
            let v: [T] = rng.normals(count)
            let exact = v.reduce(0.0) { $0 + Double($1) * Double($1) }
            let g = try gpu.sumSquares(try CheckBuffers.values(gpu, v), count: count, as: T.self)
            let c = try cpu.sumSquares(try CheckBuffers.values(cpu, v), count: count, as: T.self)
            r.close([g, c], [exact, exact], abs: 0, rel: T.precision == .f32 ? 1e-5 : 1e-12, "sum_squares \(T.precision) \(count)")
        }
        // 40 001 neurons: more than the reduction grid (256 groups × 128), so the strided loop runs.
        for s in [NTKBlockShape(n: 13, d: 7, width: 40_001), NTKBlockShape(n: 3, d: 2, width: 5)] {
            let w: [T] = rng.normals(s.width * s.d), w0: [T] = rng.normals(s.width * s.d)
            let m = rng.words(s.maskWords), m0 = rng.words(s.maskWords)
            let diag = { (be: any Backend, initial: InitialWeights) throws -> NTKBlockDiagnostics in
                try be.ntkDiagnostics(s, w: try CheckBuffers.values(be, w), initial: initial, masks: try CheckBuffers.values(be, m),
                                      masks0: try CheckBuffers.values(be, m0), as: T.self)
            }
            let g = try diag(gpu, .stored(try CheckBuffers.values(gpu, w0))), c = try diag(cpu, .stored(try CheckBuffers.values(cpu, w0)))
            let flips = zip(m, m0).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
            r.expect(g.flips == flips && c.flips == flips, "mask_flips \(g.flips) / \(c.flips), direct \(flips)")
            let direct = (0..<s.width).map { q in
                (0..<s.d).reduce(0.0) { acc, k in let v = Double(w[q * s.d + k]) - Double(w0[q * s.d + k]); return acc + v * v }
            }.max() ?? 0
            let tol = reductionTolerance(T.self, length: s.d)
            r.close([g.maxMoveSquared, c.maxMoveSquared], [direct, direct], abs: 0, rel: tol, "max_move_sq \(T.precision)")
            // w0 regenerated from the hidden-weight stream at an offset, against w0 generated explicitly.
            let seed = rng.next(), offset = UInt64(37 * s.d), scale = 0.7
            let regenerated: [T] = PhiloxGenerator(seed: seed).array(count: s.width * s.d, offset: offset,
                                                                       stream: RandomStream.hiddenWeights.rawValue, step: 0,
                                                                       distribution: .normal, scale: T(scale))
            let initial = InitialWeights.philox(seed: seed, offset: offset, scale: scale)
            let want = try diag(cpu, .stored(try CheckBuffers.values(cpu, regenerated))).maxMoveSquared
            r.close([try diag(gpu, initial).maxMoveSquared, try diag(cpu, initial).maxMoveSquared], [want, want], abs: 0, rel: tol,
                    "max_move_sq_philox \(T.precision)")
        }
    }

    /// Each plan's local-memory figure against CL_KERNEL_LOCAL_MEM_SIZE of the kernel built with the
    /// plan's tiles: the geometry tables for devices that are not here rest on these formulas.
    static func localMemoryCheck(_ gpu: OpenCLBackend, _ r: inout CheckRecorder) throws {
        let s = NTKBlockShape(n: 70, d: 40, width: 129)
        let p = MFLDShape(batch: 37, d: 20, particles: 1001)
        try bothPrecisions(gpu) { precision in
            let b = precision.bytes
            let opts = { (extra: [String]) throws -> String in
                precision == .f32 ? try gpu.options(Float.self, extra) : try gpu.options(Double.self, extra)
            }
            let rowtile = LaunchPlans.rowtileDefines
            var cases: [(KernelLaunch, [KernelSource], String)] = [
                (LaunchPlans.ntkForward(s, .reference, scalar: b), [.ntk], try opts(rowtile)),
                (LaunchPlans.ntkBackward(s, .reference, scalar: b), [.ntk],
                 try opts(["-DBWD_WG=\(LaunchPlans.backwardGroup)", "-DBWD_SC=\(LaunchPlans.backwardSamples)",
                           "-DBWD_KC=\(LaunchPlans.backwardChunk)"])),
                (LaunchPlans.mfldForward(p, scalar: b), [.mfld], try opts(rowtile)),
                (LaunchPlans.sumPartials(n: s.n, scalar: b), [.reduce], try opts(["-DRWG=\(LaunchPlans.reduceGroup)"])),
                (LaunchPlans.reduction("mask_flips", bytesPerItem: 4), [.reduce], try opts(["-DRWG=\(LaunchPlans.reduceGroup)"])),
            ]
            for (d, vectors) in [(16, 16), (784, 8), (1 << 20, 16)] {
                let plan = LaunchPlans.arcCosineProduct(n: 100, d: d, vectors: vectors, scalar: b, limits: gpu.cl.limits)
                cases.append((plan.launch, [.gram], try opts(plan.defines)))
            }
            let sc = LaunchPlans.updateSamples(d: p.d, scalar: b, limits: gpu.cl.limits, gpu.mfldConfig)
            cases.append((LaunchPlans.mfldUpdate("mfld_gradient", p, scalar: b, limits: gpu.cl.limits, gpu.mfldConfig), [.mfld],
                          try opts(["-DUPD_WG=\(gpu.mfldConfig.updateGroup)", "-DUPD_SC=\(sc)", "-DDIM=\(p.d)"])))
            for c in ntkConfigs(gpu, precision) where c.variant == 2 {
                for plan in [LaunchPlans.ntkForward(s, c, scalar: b), LaunchPlans.ntkOutputGradient(s, c, scalar: b),
                             LaunchPlans.ntkBackward(s, c, scalar: b)] {
                    cases.append((plan, [.ntkTiled], try opts(c.defines)))
                }
            }
            for g in gemmConfigs(gpu, precision) {
                cases.append((LaunchPlans.gemm(GEMMShape(m: 9, n: 9, k: 9), g, scalar: b), [.gemm],
                              try opts(g.defines + ["-DTRANS_A=0", "-DTRANS_B=0"])))
            }
            for (plan, sources, options) in cases {
                let compiled = try gpu.cl.program(sources, options: options).kernel(plan.kernel).localMemBytes(gpu.cl.device.id)
                // A compiler may round each array up to its alignment; it never gives less than declared.
                r.expect(compiled >= plan.localBytes && compiled <= plan.localBytes + 64,
                         "\(plan.kernel) \(precision): plan says \(plan.localBytes) B of local memory, the compiler \(compiled) B")
            }
        }
    }

    /// a·b + c with a = b = 1 + 2^-12, c = −(1 + 2^-11) is 2^-24 when fused and 0 when rounded
    /// twice. Built after philox.cl it must come out as it does in a program without philox.cl, so
    /// the pragma that keeps Philox's transforms unfused ends with that file.
    static func contractionCheck(_ gpu: OpenCLBackend, _ r: inout CheckRecorder) throws {
        let probe = "\n__kernel void fma_probe(__global float *out, const float a, const float c) { out[0] = a * a + c; }\n"
        var results: [Float] = []
        for prefix in ["", KernelSource.philox.text] {
            let program = try CLProgram(context: gpu.cl.context, device: gpu.cl.device.id,
                                        source: KernelSource.common.text + "\n" + prefix + probe, options: "-DREAL=float",
                                        label: prefix.isEmpty ? "fma_probe" : "philox+fma_probe")
            let k = try program.kernel("fma_probe")
            let out = try CheckBuffers.poisoned(gpu, count: 1, as: Float.self)
            try gpu.cl.launch(k, KernelLaunch(kernel: "fma_probe", groups: [1], local: [1]),
                              args: [.buffer(gpu.buffer(out)), .float(1 + 0x1p-12), .float(-(1 + 0x1p-11))])
            results.append(try gpu.download(out, count: 1, as: Float.self)[0])
        }
        r.expect(results[0] == results[1],
                 "a·b + c after philox.cl gives \(results[1]), without it \(results[0]): philox.cl's FP_CONTRACT OFF leaks")
    }
}
