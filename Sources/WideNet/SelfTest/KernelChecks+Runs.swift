import Foundation

/// Short training runs, the same seed on the CPU and on the OpenCL device: the models drive every
/// kernel in sequence, and the two loss curves must stay together (Philox draws the same weights
/// and noise on both).
extension KernelChecks {
    static var runs: [KernelCheck] {
        [KernelCheck("train: 30 GD steps, CPU against OpenCL") { gpu, cpu, r, rng in
            try bothPrecisions(gpu) { p in
                for trainOutput in [false, true] {
                    if p == .f32 { try trainRun(Float.self, trainOutput, gpu, cpu, &r, &rng) }
                    else { try trainRun(Double.self, trainOutput, gpu, cpu, &r, &rng) }
                }
            }
         },
         KernelCheck("mfld: 20 Langevin steps, CPU against OpenCL") { gpu, cpu, r, rng in
            try bothPrecisions(gpu) { p in
                if p == .f32 { try mfldRun(Float.self, gpu, cpu, &r, &rng) } else { try mfldRun(Double.self, gpu, cpu, &r, &rng) }
            }
         }]
    }

    /// Relative agreement of two runs' losses: f64 to 1e-9, f32 to 1e-4.
    static func runTolerance(_ p: Precision) -> Double { p == .f64 ? 1e-9 : 1e-4 }

    static func trainRun<T: Scalar>(_: T.Type, _ trainOutput: Bool, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                    _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let (n, d, width) = (19, 7, 3001)
        let seed = rng.next()
        let data = SyntheticData.sphere(n: n, d: d, seed: seed)
        var curves: [[Double]] = []
        for be in [cpu as any Backend, gpu] {
            // Blocks of 1024 neurons: the sum over blocks and a partial last block are exercised too.
            let net = try NTKTwoLayerNet<T>(backend: be, x: data.x.map { T($0) }, n: n, d: d, width: width,
                                            initialisation: .random(seed: seed, kappa: 1), trainOutput: trainOutput,
                                            blockWidth: 1024)
            var losses: [Double] = []
            for _ in 0..<30 {
                let e = zip(try net.forward(), data.y).map { $0 - $1 }
                losses.append(0.5 * e.reduce(0) { $0 + $1 * $1 })
                // Training a as well adds K_a to H∞ and raises the largest stable step.
                try net.update(residual: e, learningRate: trainOutput ? 0.1 : 0.4)
            }
            curves.append(losses)
        }
        let what = "train \(T.precision) trainOutput=\(trainOutput)"
        r.close(curves[1], curves[0], abs: 1e-12, rel: runTolerance(T.precision), "\(what) loss")
        r.expect(curves[0].last! < 0.9 * curves[0][0], "\(what): the loss did not fall (\(curves[0][0]) → \(curves[0].last!))")
    }

    static func mfldRun<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                   _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let (n, d, particles) = (50, 4, 300)
        let seed = rng.next()
        let x: [Double] = rng.normals(n * d, scale: 1 / Double(d).squareRoot())
        let y: [Double] = (0..<n).map { j in tanh(2 * x[j * d]) }
        var curves: [[Double]] = []
        for be in [cpu as any Backend, gpu] {
            let net = try MeanFieldNet<T>(backend: be, d: d, particles: particles, unit: .bounded, unitScale: 2,
                                          seed: seed, initScale: 1, blockParticles: 128)
            let count = try net.setBatch(x)
            var losses: [Double] = []
            for k in 0..<20 {
                let f = try net.forward(batch: count)
                let e = zip(f, y).map { $0 - $1 }
                losses.append(0.5 * e.reduce(0) { $0 + $1 * $1 } / Double(n))
                try net.step(lossDerivatives: e, learningRate: 0.3, lambdaEntropy: 0.01, lambdaL2: 0.01, seed: seed, step: k + 1)
            }
            curves.append(losses)
        }
        r.close(curves[1], curves[0], abs: 1e-12, rel: runTolerance(T.precision), "mfld \(T.precision) loss")
    }
}

extension KernelChecks {
    /// One forward pass of the two-layer net at a large width (n×d unit inputs, Philox weights of
    /// one seed, so both backends hold the same net), OpenCL against the CPU, the device's masks
    /// poisoned beforehand. A mask word may differ from the CPU's only where some z falls within
    /// rounding of zero, a bit or two; a word that differs in four or more bits was computed wrongly
    /// or not at all (a skipped work-group leaves 0xDEADBEEF). u agrees within 32·eps·√m.
    public static func wideForward(on gpu: OpenCLBackend, n: Int, d: Int, width: Int, precision: Precision,
                                   seed: UInt64? = nil) -> KernelCheckResult {
        let name = "ntk forward at m=\(width) (n=\(n), d=\(d), \(precision.rawValue)) against the CPU"
        let check = KernelCheck(name) { gpu, cpu, r, rng in
            if precision == .f32 { try wideForward(Float.self, n, d, width, gpu, cpu, &r, &rng) }
            else { try wideForward(Double.self, n, d, width, gpu, cpu, &r, &rng) }
        }
        return run(check, on: gpu, seed: seed)
    }

    static func wideForward<T: Scalar>(_: T.Type, _ n: Int, _ d: Int, _ width: Int, _ gpu: OpenCLBackend, _ cpu: CPUBackend,
                                       _ r: inout CheckRecorder, _ rng: inout CheckRNG) throws {
        let seed = rng.next()
        let x = SyntheticData.sphere(n: n, d: d, seed: seed).x.map { T($0) }
        var us: [[Double]] = [], masks: [[UInt32]] = []
        for be in [gpu as any Backend, cpu] {
            let net = try NTKTwoLayerNet<T>(backend: be, x: x, n: n, d: d, width: width, initialisation: .random(seed: seed, kappa: 1))
            if be === gpu {
                for b in net.blocks { try gpu.cl.fill(gpu.buffer(b.masks), pattern: 0xDEAD_BEEF, bytes: b.shape.maskWords * 4) }
            }
            us.append(try net.forward())
            var all: [UInt32] = []
            for b in net.blocks { all += try be.download(b.masks, count: b.shape.maskWords, as: UInt32.self) }
            masks.append(all)
        }
        let eps = T.precision == .f32 ? 1.2e-7 : 2.3e-16
        r.close(us[0], us[1], abs: 32 * eps * Double(width).squareRoot(), rel: 0, "u")
        var bits = 0, badWords = 0
        for (g, c) in zip(masks[0], masks[1]) {
            let k = (g ^ c).nonzeroBitCount
            bits += k
            if k >= 4 { badWords += 1 }
        }
        r.expect(masks[0].count == masks[1].count, "mask word counts differ")
        r.expect(badWords == 0, "\(badWords) mask words differ in 4 or more bits (\(bits) bits in all, of \(n * width))")
    }
}
