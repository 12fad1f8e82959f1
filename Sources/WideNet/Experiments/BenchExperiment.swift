import Foundation

/// `widenet bench`: the same operations on every backend (the CPU and each OpenCL device), each
/// with its rate and the fraction of that backend's measured ceilings: a copy bandwidth and a
/// peak (the best matrix-product rate it reached), and for the CPU's noise-only update the fraction
/// of its counted floor (bytes over the copy bandwidth, the generator's vector instructions over
/// the vector unit's rate). Kernel build time is reported apart.
public enum BenchExperiment {
    public struct Config: Sendable {
        public var gemmSizes: [Int]? = nil        // nil: per device kind
        public var ntkN = 256, ntkD = 64
        public var ntkWidth: Int? = nil           // nil: 2^16 on a CPU, 2^24 on a GPU
        public var particles: Int? = nil          // nil: 2^18 on a CPU, 2^24 on a GPU
        public var repeats = 5
        public var precision: Precision = .f32
        public var backends: [String]? = nil      // "cpu", "opencl:N"; nil: all
        public init() {}
    }

    /// One timed operation.
    public struct Measurement: Sendable {
        public var operation: String
        public var shape: String
        public var seconds: Double                // median
        public var flops: Double
        public var bytes: Double                  // fewest bytes the operation must move
        public var buildSeconds: Double = 0
        /// Vector instructions the operation must issue where they, not flops, are its arithmetic
        /// (the CPU's noise generator); 0 elsewhere.
        public var vectorInstructions: Double = 0
    }

    public struct BackendReport: Sendable {
        public var info: BackendInfo
        public var copyGBs: Double
        public var peakGFLOPs: Double
        public var measurements: [Measurement]
        /// The NTK kernels' tiles on an OpenCL device (ntk_step; ntk_step_v1 is variant 1).
        public var ntkTiles: String? = nil
        /// Vector instructions a second on the CPU: the measured peak over the flops of one
        /// instruction of the unit sgemm ran on; nil for OpenCL devices.
        public var vectorInstructionsPerSecond: Double? = nil

        /// The larger of an operation's counted floors: its bytes over the copy bandwidth and its
        /// vector instructions over their rate; nil where it counts neither.
        public func floorSeconds(_ m: Measurement) -> Double? {
            guard m.vectorInstructions > 0, let rate = vectorInstructionsPerSecond else { return nil }
            return max(m.bytes / (copyGBs * 1e9), m.vectorInstructions / rate)
        }
    }

    /// The backends to measure: the CPU, then every OpenCL device.
    public static func backends(_ cfg: Config) throws -> [(String, any Backend)] {
        var out: [(String, any Backend)] = []
        let want = cfg.backends.map(Set.init)
        if want == nil || want!.contains("cpu") { out.append(("cpu", CPUBackend())) }
        for device in (try? CLDevice.all()) ?? [] {
            let label = "opencl:\(device.info.index)"
            guard want == nil || want!.contains(label) || want!.contains("opencl") else { continue }
            if cfg.precision == .f64 && !device.info.hasFP64 { continue }
            out.append((label, try OpenCLBackend(device: device)))
        }
        return out
    }

    public static func run(_ cfg: Config, progress: @escaping (String) -> Void = { _ in }) throws -> [BackendReport] {
        guard cfg.repeats >= 1 else { throw BackendError("--repeats must be ≥ 1") }
        var reports: [BackendReport] = []
        for (label, backend) in try backends(cfg) {
            progress("benchmarking \(label): \(backend.info.deviceName)")
            switch cfg.precision {
            case .f32: reports.append(try BackendBench<Float>(backend: backend, cfg: cfg, progress: progress).run())
            case .f64: reports.append(try BackendBench<Double>(backend: backend, cfg: cfg, progress: progress).run())
            }
        }
        return reports
    }
}

/// The measurements on one backend in precision T.
struct BackendBench<T: Scalar> {
    let backend: any Backend
    let cfg: BenchExperiment.Config
    let progress: (String) -> Void

    var buildSeconds: Double { backend.buildSeconds }

    /// Median seconds of `body` over the repeats, after one warm-up run whose kernel builds are
    /// returned apart.
    func time(_ body: () throws -> Void) throws -> (seconds: Double, build: Double) {
        let before = buildSeconds
        try body()
        try backend.synchronize()
        let build = buildSeconds - before
        var times: [Double] = []
        for _ in 0..<cfg.repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            try backend.synchronize()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        times.sort()
        return (times[times.count / 2], build)
    }

    func random(_ count: Int, stream: UInt32) throws -> any DeviceBuffer {
        let b = try backend.allocate(bytes: count * MemoryLayout<T>.stride)
        try backend.fillRandom(b, count: count, offset: 0, seed: 12345, stream: stream, step: 0, distribution: .normal, scale: T(1))
        return b
    }

    func run() throws -> BenchExperiment.BackendReport {
        let size = MemoryLayout<T>.stride
        var ms: [BenchExperiment.Measurement] = []

        // Copy bandwidth: the memory ceiling (bytes read + written).
        let copyBytes = min(256 << 20, backend.info.maxAllocBytes / 2) / 4 * 4
        let src = try backend.allocate(bytes: copyBytes), dst = try backend.allocate(bytes: copyBytes)
        try backend.upload([UInt8](repeating: 1, count: copyBytes), to: src)
        let copy = try time { try backend.copy(src, to: dst, bytes: copyBytes) }
        let copyGBs = 2 * Double(copyBytes) / copy.seconds / 1e9
        ms.append(.init(operation: "copy", shape: "\(copyBytes >> 20) MiB", seconds: copy.seconds, flops: 0,
                        bytes: 2 * Double(copyBytes)))

        let sizes = cfg.gemmSizes ?? (backend.info.isGPU ? [1024, 4096, 8192] : [256, 1024, 2048])
        for s in sizes {
            progress("  gemm \(s)³")
            let a = try random(s * s, stream: 1), b = try random(s * s, stream: 2)
            let c = try backend.allocate(bytes: s * s * size)
            let shape = GEMMShape(m: s, n: s, k: s)
            let t = try time { try backend.gemm(shape, a, b, c, alpha: T(1), beta: T(0)) }
            ms.append(.init(operation: "gemm", shape: "\(s)x\(s)x\(s)", seconds: t.seconds, flops: shape.flops,
                            bytes: Double(3 * s * s * size), buildSeconds: t.build))
        }
        let peak = ms.filter { $0.operation == "gemm" }.map { $0.flops / $0.seconds / 1e9 }.max() ?? .nan

        // The NTK training step (forward + backward-and-update), no diagnostics.
        let (n, d) = (cfg.ntkN, cfg.ntkD)
        let m = cfg.ntkWidth ?? (backend.info.isGPU ? 1 << 24 : 1 << 16)
        progress("  ntk step n=\(n) d=\(d) m=\(m)")
        let data = SyntheticData.sphere(n: n, d: d, seed: 1)
        let net = try NTKTwoLayerNet<T>(backend: backend, x: data.x.map { T($0) }, n: n, d: d, width: m,
                                        initialisation: .random(seed: 1, kappa: 1))
        var u = try net.forward()
        let step = try time {
            try net.update(residual: zip(u, data.y).map { $0 - $1 }, learningRate: 1e-3)
            u = try net.forward()
        }
        // Fewest bytes: W read by the forward and the backward pass and written once, the masks
        // written once and read once.
        let ntkBytes = 3 * Double(m * d * size) + 2 * Double(n) * Double(m) / 8
        ms.append(.init(operation: "ntk_step", shape: "n=\(n) d=\(d) m=\(m)", seconds: step.seconds,
                        flops: 4 * Double(n) * Double(m) * Double(d), bytes: ntkBytes, buildSeconds: step.build))
        if let tiles = backend.ntkTiles(T.precision), tiles.variant != 1 {
            // The same step on the variant-1 kernels, for comparison with the register-tiled default.
            progress("  ntk step, variant-1 kernels")
            var v1 = (seconds: 0.0, build: 0.0)
            try backend.withNTKTiles(.reference) {
                v1 = try time {
                    try net.update(residual: zip(u, data.y).map { $0 - $1 }, learningRate: 1e-3)
                    u = try net.forward()
                }
            }
            ms.append(.init(operation: "ntk_step_v1", shape: "n=\(n) d=\(d) m=\(m)", seconds: v1.seconds,
                            flops: 4 * Double(n) * Double(m) * Double(d), bytes: ntkBytes, buildSeconds: v1.build))
        }

        // The empirical Gram matrix from the packed masks: n²/2 AND-popcounts of m-bit rows.
        progress("  mask gram n=\(n) m=\(m)")
        let xx = SyntheticData.inputGram(data.x, n: n, d: d)
        let gram = try time { _ = try net.empiricalGram(inputGram: xx) }
        ms.append(.init(operation: "mask_gram", shape: "n=\(n) m=\(m)", seconds: gram.seconds,
                        flops: Double(n) * Double(n + 1) / 2 * Double(m) / 32, bytes: Double(n) * Double(m) / 8,
                        buildSeconds: gram.build))
        ms += try particleUpdates()
        return .init(info: backend.info, copyGBs: copyGBs, peakGFLOPs: peak, measurements: ms,
                     ntkTiles: backend.ntkTiles(T.precision)?.description,
                     vectorInstructionsPerSecond: backend.computesOnHost ? peak * 1e9 / CPUKernels.best.flopsPerVectorInstruction : nil)
    }

    /// The mean-field particle update: with the data term off it is pure streaming (read and write
    /// N×D values plus Philox noise), so its rate is compared with the copy bandwidth; the full step
    /// adds the forward pass and the gradient over a batch, for each unit (tanh, relu) and loss
    /// (squared, logistic on the labels' signs): `mfld_step` is tanh with the squared loss, the
    /// others are named by what differs (`mfld_step_relu`, `mfld_step_logistic`, `mfld_step_relu_logistic`).
    func particleUpdates() throws -> [BenchExperiment.Measurement] {
        let d = 20, D = d + 2, batch = 256
        let count = cfg.particles ?? (backend.info.isGPU ? 1 << 24 : 1 << 18)
        progress("  mfld update N=\(count) d=\(d)")
        let data = MFLDData.teacher(n: batch, nTest: 1, d: d, width: 4, seed: 1)
        let bytes = 2 * Double(count * D * MemoryLayout<T>.stride)
        // Forward 2BNd, backward 4BNd (z again, then the weight gradient).
        let flops = 6 * Double(batch) * Double(count) * Double(d)
        var ms: [BenchExperiment.Measurement] = []
        var k = 0
        for unit in [ParticleUnit.tanh, .relu] {
            let net = try MeanFieldNet<T>(backend: backend, d: d, particles: count, unit: unit, unitScale: 1, seed: 1, initScale: 1)
            _ = try net.setBatch(data.x)
            if unit == .tanh {
                let pure = try time {
                    k += 1
                    try net.step(lossDerivatives: [Double](repeating: 0, count: batch), learningRate: 0.1, lambdaEntropy: 1e-3,
                                 lambdaL2: 1e-3, seed: 1, step: k, dataTerm: false)
                }
                let instructions = backend.computesOnHost ? Double(count * D) * CPUKernels.instructionSet.noiseInstructionsPerValue : 0
                ms.append(.init(operation: "mfld_noise", shape: "N=\(count) D=\(D)", seconds: pure.seconds, flops: 0, bytes: bytes,
                                buildSeconds: pure.build, vectorInstructions: instructions))
            }
            for loss in [MFLDLoss.squared, .logistic] {
                let labels = loss == .logistic ? data.y.map { $0 >= 0 ? 1.0 : -1.0 } : data.y
                let full = try time {
                    k += 1
                    let f = try net.forward(batch: batch)
                    try net.step(lossDerivatives: zip(f, labels).map { loss.derivative($0, $1) }, learningRate: 0.1,
                                 lambdaEntropy: 1e-3, lambdaL2: 1e-3, seed: 1, step: k)
                }
                let name = ["mfld_step", unit == .relu ? "relu" : nil, loss == .logistic ? "logistic" : nil].compactMap { $0 }
                ms.append(.init(operation: name.joined(separator: "_"), shape: "B=\(batch) N=\(count) d=\(d)", seconds: full.seconds,
                                flops: flops, bytes: bytes + Double(batch * d * MemoryLayout<T>.stride), buildSeconds: full.build))
            }
        }
        return ms
    }
}

extension BenchExperiment {
    /// The terminal table.
    public static func table(_ reports: [BackendReport]) -> String {
        var lines: [String] = []
        for r in reports {
            lines.append("\(r.info.kind): \(r.info.deviceName)  (copy \(fmt(r.copyGBs)) GB/s, peak \(fmt(r.peakGFLOPs)) GFLOP/s measured)")
            if let tiles = r.ntkTiles { lines.append("  NTK kernels: \(tiles) (ntk_step_v1: variant 1)") }
            let op = max(10, (r.measurements.map(\.operation.count).max() ?? 0) + 1)
            lines.append("  " + pad("operation", op) + pad("shape", 24) + lpad("ms", 10) + lpad("GFLOP/s", 10)
                         + lpad("of peak", 9) + lpad("GB/s", 9) + lpad("of copy", 9) + lpad("of floor", 10) + lpad("build s", 9))
            for m in r.measurements {
                let gf = m.flops / m.seconds / 1e9, gb = m.bytes / m.seconds / 1e9
                lines.append("  " + pad(m.operation, op) + pad(m.shape, 24) + lpad(fmt(m.seconds * 1e3), 10)
                             + lpad(m.flops > 0 ? fmt(gf) : "-", 10)
                             + lpad(m.flops > 0 ? String(format: "%.0f%%", 100 * gf / r.peakGFLOPs) : "-", 9)
                             + lpad(fmt(gb), 9) + lpad(String(format: "%.0f%%", 100 * gb / r.copyGBs), 9)
                             + lpad(r.floorSeconds(m).map { String(format: "%.0f%%", 100 * $0 / m.seconds) } ?? "-", 10)
                             + lpad(m.buildSeconds > 0 ? String(format: "%.2f", m.buildSeconds) : "-", 9))
            }
        }
        return lines.joined(separator: "\n")
    }

    public static func json(_ reports: [BackendReport], config: Config) -> JSONObject {
        var root = JSONObject()
        root.set("command", "bench")
        root.set("version", widenetVersion)
        root.set("precision", config.precision.rawValue)
        root.set("repeats", config.repeats)
        root["backends"] = .array(reports.map { r in
            var o = JSONObject()
            o.set("kind", r.info.kind); o.set("device", r.info.deviceName); o.set("driver", r.info.driver)
            o.set("copy_gb_per_s", r.copyGBs); o.set("peak_gflop_per_s", r.peakGFLOPs)
            if let tiles = r.ntkTiles { o.set("ntk_tiles", tiles) }
            if let rate = r.vectorInstructionsPerSecond { o.set("vector_instructions_per_s", rate) }
            o["measurements"] = .array(r.measurements.map { m in
                var e = JSONObject()
                e.set("operation", m.operation); e.set("shape", m.shape); e.set("seconds", m.seconds)
                e.set("flops", m.flops); e.set("bytes", m.bytes)
                e.set("gflop_per_s", m.flops > 0 ? m.flops / m.seconds / 1e9 : nil)
                e.set("gb_per_s", m.bytes / m.seconds / 1e9)
                e.set("fraction_of_peak", m.flops > 0 ? m.flops / m.seconds / 1e9 / r.peakGFLOPs : nil)
                e.set("fraction_of_copy", m.bytes / m.seconds / 1e9 / r.copyGBs)
                e.set("build_seconds", m.buildSeconds)
                if let floor = r.floorSeconds(m) {
                    e.set("vector_instructions", m.vectorInstructions)
                    e.set("floor_seconds", floor); e.set("fraction_of_floor", floor / m.seconds)
                }
                return .object(e)
            })
            return .object(o)
        })
        return root
    }

    static func fmt(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        return v >= 100 ? String(format: "%.0f", v) : v >= 1 ? String(format: "%.2f", v) : String(format: "%.3g", v)
    }
    static func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s.padding(toLength: w, withPad: " ", startingAt: 0) }
    static func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? " " + s : String(repeating: " ", count: w - s.count) + s }
}
