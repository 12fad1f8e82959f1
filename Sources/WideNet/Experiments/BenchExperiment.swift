import Foundation

/// `widenet bench`: the same operations on every backend (the CPU and each OpenCL device), each
/// with its rate beside two measured rates of that backend: its copy bandwidth, and the best GEMM
/// rate this bench reached (`× gemm`: a measured rate, not a ceiling: at small --gemm-sizes a fused
/// NTK step outruns it), and for the CPU's noise-only update the fraction of its counted floor (bytes
/// over the copy bandwidth, the generator's vector instructions at the best GEMM's instruction rate).
/// Kernel build time is reported apart. Every buffer it allocates is preflighted, for every backend,
/// before the first measurement (BenchExperiment.preflight).
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

        public func gemmSizes(on info: BackendInfo) -> [Int] { gemmSizes ?? (info.isGPU ? [1024, 4096, 8192] : [256, 1024, 2048]) }
        public func ntkWidth(on info: BackendInfo) -> Int { ntkWidth ?? (info.isGPU ? 1 << 24 : 1 << 16) }
        public func particles(on info: BackendInfo) -> Int { particles ?? (info.isGPU ? 1 << 24 : 1 << 18) }
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
        /// The best GEMM rate among --gemm-sizes and the size it was reached at (NaN and nil without
        /// GEMMs). Every flop rate is given as a multiple of it (`× gemm`): a measured reference,
        /// not the device's peak, which a fused kernel or a GEMM at another size can exceed.
        public var bestGEMMGFLOPs: Double
        public var bestGEMMSize: Int?
        public var measurements: [Measurement]
        /// The NTK kernels' tiles on an OpenCL device (ntk_step; ntk_step_v1 is variant 1).
        public var ntkTiles: String? = nil
        /// Vector instructions a second on the CPU: the best GEMM rate over the flops of one
        /// instruction of the unit sgemm ran on; nil for OpenCL devices.
        public var vectorInstructionsPerSecond: Double? = nil

        /// A measurement's flop rate over the best GEMM rate; nil where it counts no flops or no GEMM ran.
        public func ratioToBestGEMM(_ m: Measurement) -> Double? {
            guard m.flops > 0, bestGEMMGFLOPs.isFinite, bestGEMMGFLOPs > 0 else { return nil }
            return m.flops / m.seconds / 1e9 / bestGEMMGFLOPs
        }

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
        let chosen = try backends(cfg)
        // Every backend's sizes before the first measurement, which can take minutes.
        for (label, backend) in chosen {
            try preflight(cfg, label: label, on: backend.info, computesOnHost: backend.computesOnHost)
        }
        var reports: [BackendReport] = []
        for (label, backend) in chosen {
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

    /// Each phase allocates its own buffers and frees them when it returns, so the memory one backend
    /// needs is that of its largest phase (what BenchExperiment.preflight checks).
    func run() throws -> BenchExperiment.BackendReport {
        var ms: [BenchExperiment.Measurement] = []
        let copy = try copyBandwidth()
        ms.append(copy)
        let copyGBs = copy.bytes / copy.seconds / 1e9
        let products = try gemms(), sizes = cfg.gemmSizes(on: backend.info)
        ms += products
        let rate = { (m: BenchExperiment.Measurement) in m.flops / m.seconds / 1e9 }
        let best = products.indices.max { rate(products[$0]) < rate(products[$1]) }
        let bestGFLOPs = best.map { rate(products[$0]) } ?? .nan
        ms += try ntkStep()
        ms += try particleUpdates()
        return .init(info: backend.info, copyGBs: copyGBs, bestGEMMGFLOPs: bestGFLOPs,
                     bestGEMMSize: best.map { sizes[$0] }, measurements: ms,
                     ntkTiles: backend.ntkTiles(T.precision)?.description,
                     vectorInstructionsPerSecond: backend.computesOnHost && best != nil
                        ? bestGFLOPs * 1e9 / CPUKernels.best.flopsPerVectorInstruction : nil)
    }

    /// Copy bandwidth: the memory ceiling (bytes read + written).
    func copyBandwidth() throws -> BenchExperiment.Measurement {
        let copyBytes = BenchExperiment.copyBytes(backend.info)
        let src = try backend.allocate(bytes: copyBytes), dst = try backend.allocate(bytes: copyBytes)
        try backend.upload([UInt8](repeating: 1, count: copyBytes), to: src)
        let copy = try time { try backend.copy(src, to: dst, bytes: copyBytes) }
        return .init(operation: "copy", shape: "\(copyBytes >> 20) MiB", seconds: copy.seconds, flops: 0,
                     bytes: 2 * Double(copyBytes))
    }

    /// Square products at each size, one size's matrices at a time.
    func gemms() throws -> [BenchExperiment.Measurement] {
        let size = MemoryLayout<T>.stride
        var ms: [BenchExperiment.Measurement] = []
        for s in cfg.gemmSizes(on: backend.info) {
            progress("  gemm \(s)³")
            let a = try random(s * s, stream: 1), b = try random(s * s, stream: 2)
            let c = try backend.allocate(bytes: s * s * size)
            let shape = GEMMShape(m: s, n: s, k: s)
            let t = try time { try backend.gemm(shape, a, b, c, alpha: T(1), beta: T(0)) }
            ms.append(.init(operation: "gemm", shape: "\(s)x\(s)x\(s)", seconds: t.seconds, flops: shape.flops,
                            bytes: Double(3 * s * s * size), buildSeconds: t.build))
        }
        return ms
    }

    /// The NTK training step (forward + backward-and-update, no diagnostics), on the variant-1 kernels
    /// too where the device's default differs, and the empirical Gram matrix from its masks.
    func ntkStep() throws -> [BenchExperiment.Measurement] {
        let size = MemoryLayout<T>.stride
        var ms: [BenchExperiment.Measurement] = []
        let (n, d) = (cfg.ntkN, cfg.ntkD)
        let m = cfg.ntkWidth(on: backend.info)
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
        return ms
    }

    /// The mean-field particle update: with the data term off it is pure streaming (read and write
    /// N×D values plus Philox noise), so its rate is compared with the copy bandwidth; the full step
    /// adds the forward pass and the gradient over a batch, for each unit (tanh, relu) and loss
    /// (squared, logistic on the labels' signs): `mfld_step` is tanh with the squared loss, the
    /// others are named by what differs (`mfld_step_relu`, `mfld_step_logistic`, `mfld_step_relu_logistic`).
    func particleUpdates() throws -> [BenchExperiment.Measurement] {
        let d = BenchExperiment.particleD, D = d + 2, batch = BenchExperiment.particleBatch
        let count = cfg.particles(on: backend.info)
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
            let best = r.bestGEMMSize.map { "best gemm \(fmt(r.bestGEMMGFLOPs)) GFLOP/s, at \($0)³" } ?? "no gemm"
            lines.append("\(r.info.kind): \(r.info.deviceName)  (copy \(fmt(r.copyGBs)) GB/s; \(best); both measured here)")
            if let tiles = r.ntkTiles { lines.append("  NTK kernels: \(tiles) (ntk_step_v1: variant 1)") }
            let op = max(10, (r.measurements.map(\.operation.count).max() ?? 0) + 1)
            lines.append("  " + pad("operation", op) + pad("shape", 24) + lpad("ms", 10) + lpad("GFLOP/s", 10)
                         + lpad("× gemm", 9) + lpad("GB/s", 9) + lpad("of copy", 9) + lpad("of floor", 10) + lpad("build s", 9))
            for m in r.measurements {
                let gf = m.flops / m.seconds / 1e9, gb = m.bytes / m.seconds / 1e9
                lines.append("  " + pad(m.operation, op) + pad(m.shape, 24) + lpad(fmt(m.seconds * 1e3), 10)
                             + lpad(m.flops > 0 ? fmt(gf) : "-", 10)
                             + lpad(r.ratioToBestGEMM(m).map { String(format: "%.2f", $0) } ?? "-", 9)
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
            o.set("copy_gb_per_s", r.copyGBs)
            o.set("best_gemm_gflop_per_s", r.bestGEMMGFLOPs.isFinite ? r.bestGEMMGFLOPs : nil)
            o.set("best_gemm_size", r.bestGEMMSize)
            // The same figure under its earlier name, which Benchmarks/cpu_ceiling.py reads: the best
            // GEMM rate measured, not a peak.
            o.set("peak_gflop_per_s", r.bestGEMMGFLOPs.isFinite ? r.bestGEMMGFLOPs : nil)
            if let tiles = r.ntkTiles { o.set("ntk_tiles", tiles) }
            if let rate = r.vectorInstructionsPerSecond { o.set("vector_instructions_per_s", rate) }
            o["measurements"] = .array(r.measurements.map { m in
                var e = JSONObject()
                e.set("operation", m.operation); e.set("shape", m.shape); e.set("seconds", m.seconds)
                e.set("flops", m.flops); e.set("bytes", m.bytes)
                e.set("gflop_per_s", m.flops > 0 ? m.flops / m.seconds / 1e9 : nil)
                e.set("gb_per_s", m.bytes / m.seconds / 1e9)
                e.set("ratio_to_best_gemm", r.ratioToBestGEMM(m))
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

// MARK: - Preflight

extension BenchExperiment {
    /// The mean-field update's inputs: d, and the batch of its full steps.
    static let particleD = 20, particleBatch = 256

    /// The copy measurement's two buffers: 256 MiB each, or half the largest allocation.
    static func copyBytes(_ info: BackendInfo) -> Int { min(256 << 20, info.maxAllocBytes / 2) / 4 * 4 }

    /// What one phase of the measurements holds at once on a backend: its buffers on the device
    /// (host memory on the CPU backend), the largest of them, and the host-side arrays beside them.
    /// In doubles, so that no size overflows before it is refused.
    public struct Footprint: Sendable, Equatable {
        public var device: Double, largestBuffer: Double, host: Double
    }

    /// The copy measurement: source and destination, and the host array uploaded into the source.
    static func copyFootprint(_ info: BackendInfo) -> Footprint {
        let b = Double(copyBytes(info))
        return Footprint(device: 2 * b, largestBuffer: b, host: b)
    }

    /// One s×s×s product: A, B and C.
    public static func gemmFootprint(size s: Int, precision: Precision) -> Footprint {
        let matrix = Double(s) * Double(s) * Double(precision.bytes)
        return Footprint(device: 3 * matrix, largestBuffer: matrix, host: 0)
    }

    /// The NTK step and the mask Gram at width m: the net's blocks (NTKTwoLayerNet: w, a, the current and
    /// initial masks, each block's partial outputs, the masks rounded up to whole words), X, the
    /// residual and the n×n counts on the device; on the host the data, the input Gram, the counts
    /// downloaded and the Gram matrix, and each block's partial outputs of a forward pass.
    public static func ntkFootprint(width m: Int, n: Int, d: Int, precision: Precision) -> Footprint {
        let s = Double(precision.bytes), (nn, dd, mm) = (Double(n), Double(d), Double(m))
        let perNeuron = dd * s + s + 2 * nn / 8
        let unit = max(d * precision.bytes, (n + 7) / 8)
        let blockWidth = WidthPartition.forProblem(width: 1, bytesPerUnit: unit).blockWidth
        let blocks = (mm / Double(blockWidth)).rounded(.up)
        let widest = Double(min(blockWidth, max(m, 1)))
        let device = mm * perNeuron + blocks * (nn * s + 2 * 4 * nn) + nn * dd * s + nn * s + nn * nn * 4
        let largest = max(widest * dd * s, nn * (widest / 32).rounded(.up) * 4, nn * nn * 4)
        let host = nn * dd * (8 + s) + nn * nn * (8 + 4 + 8 + 8) + 2 * blocks * nn * 8 + 8 * nn * 8
        return Footprint(device: device, largestBuffer: largest, host: host)
    }

    /// The mean-field update with N particles of D = d + 2 values (MeanFieldNet's blocks), the batch,
    /// its coefficients and outputs on the device; on the host the batch's data and each block's
    /// partial outputs of a forward pass. One net at a time (tanh, then relu).
    public static func particleFootprint(particles count: Int, precision: Precision) -> Footprint {
        let s = Double(precision.bytes), D = particleD + 2, B = Double(particleBatch), N = Double(count)
        let blockWidth = WidthPartition.forProblem(width: 1, bytesPerUnit: D * precision.bytes).blockWidth
        let blocks = (N / Double(blockWidth)).rounded(.up)
        let device = N * Double(D) * s + B * (Double(particleD) + 2) * s + blocks * B * s
        let largest = Double(min(blockWidth, max(count, 1))) * Double(D) * s
        let host = B * Double(particleD) * (8 + s) * 2 + 2 * blocks * B * 8 + 16 * B * 8
        return Footprint(device: device, largestBuffer: largest, host: host)
    }

    /// Refuses, before anything is measured, a size whose buffers cannot fit on this backend: on
    /// the CPU backend in the host memory this process may still use (MemoryPreflight), on an
    /// OpenCL device in its memory (90 % of it on a GPU, 70 % elsewhere, as the other commands
    /// allow) and its largest allocation, with the device's host-side arrays in host memory. The
    /// phases free their buffers in turn, so each is checked alone; each refusal names the bytes
    /// needed, the bytes available and the largest size that fits.
    public static func preflight(_ cfg: Config, label: String, on info: BackendInfo, computesOnHost: Bool) throws {
        let p = cfg.precision
        try require(label: label, on: info, computesOnHost: computesOnHost, size: 0, option: nil,
                    what: "bench's copy measurement on \(label) (two \(copyBytes(info) >> 20) MiB buffers)") { _ in copyFootprint(info) }
        if let s = cfg.gemmSizes(on: info).max() {
            let given = cfg.gemmSizes != nil ? "bench --gemm-sizes \(s)" : "bench's default gemm at \(s)³"
            try require(label: label, on: info, computesOnHost: computesOnHost, size: s, option: "--gemm-sizes",
                        what: "\(given) on \(label) (three \(s)×\(s) \(p.rawValue) matrices)") { gemmFootprint(size: $0, precision: p) }
        }
        let m = cfg.ntkWidth(on: info)
        let width = cfg.ntkWidth != nil ? "bench --ntk-width \(m)" : "bench's default NTK width \(m)"
        try require(label: label, on: info, computesOnHost: computesOnHost, size: m, option: "--ntk-width",
                    what: "\(width) on \(label) (the NTK step at n = \(cfg.ntkN), d = \(cfg.ntkD): weights and activation masks)") {
            ntkFootprint(width: $0, n: cfg.ntkN, d: cfg.ntkD, precision: p)
        }
        let count = cfg.particles(on: info)
        let particles = cfg.particles != nil ? "bench --particles \(count)" : "bench's default \(count) particles"
        try require(label: label, on: info, computesOnHost: computesOnHost, size: count, option: "--particles",
                    what: "\(particles) on \(label) (\(particleD + 2) \(p.rawValue) values each)") {
            particleFootprint(particles: $0, precision: p)
        }
    }

    /// One phase's check; `footprint(k)` is the phase at size k, `option` the option that sets it.
    static func require(label: String, on info: BackendInfo, computesOnHost: Bool, size: Int, option: String?,
                        what: String, footprint: (Int) -> Footprint) throws {
        func largest(_ fits: (Footprint) -> Bool) -> String {
            guard let option else { return "its buffers do not depend on the options" }
            let k = largestSize(below: size) { fits(footprint($0)) }
            return k > 0 ? "the largest \(option) that fits is \(k)" : "no \(option) fits"
        }
        let need = footprint(size)
        if computesOnHost {
            // Its buffers are host memory.
            try MemoryPreflight.require(need.device + need.host, for: what) { have in largest { $0.device + $0.host <= have } }
            return
        }
        let share = info.isGPU ? 0.9 : 0.7
        let budget = Double(info.globalMemBytes) * share, maxAlloc = Double(info.maxAllocBytes)
        let fits = { (f: Footprint) in f.device <= budget && f.largestBuffer <= maxAlloc }
        try MemoryPreflight.require(need.host, for: what + " beside the device's buffers") { have in largest { $0.host <= have && fits($0) } }
        if !(need.device <= budget) {
            throw BackendError.resources("\(what) needs \(MemoryPreflight.gb(need.device)) of device memory but \(info.deviceName) "
                + "offers \(MemoryPreflight.gb(budget)) (\(Int(share * 100)) % of its \(MemoryPreflight.gb(Double(info.globalMemBytes)))); "
                + largest(fits))
        }
        if !(need.largestBuffer <= maxAlloc) {
            throw BackendError.resources("\(what) needs a buffer of \(MemoryPreflight.gb(need.largestBuffer)) but \(info.deviceName) "
                + "allocates at most \(MemoryPreflight.gb(maxAlloc)) at once; " + largest(fits))
        }
    }

    /// The largest k in 0..<size with fits(k) (fits monotone: true up to some k, false after), 0 when none.
    static func largestSize(below size: Int, fits: (Int) -> Bool) -> Int {
        var lo = 0, hi = size          // lo: 0 or a size that fits; hi: one that does not
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if fits(mid) { lo = mid } else { hi = mid }
        }
        return lo
    }
}
