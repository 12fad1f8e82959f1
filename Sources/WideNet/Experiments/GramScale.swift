import Foundation

/// `widenet gram` at dataset scale (ARCHITECTURE.md §5, the gram section): λ0 and the few smallest
/// eigenvalues of H∞ by Lanczos (KernelEigensolver) from the stored matrix or matrix-free tiles, and
/// with a width λ_min(H(0)) from tiles of the packed masks, never an n×n count matrix.
public enum GramEigensolver: String, Sendable, Codable, CaseIterable {
    case full, lanczos, auto
}

/// Where H∞ lives during the eigensolver: an n×n array, or tiles recomputed in each product.
public enum GramMatrixMode: String, Sendable, Codable, CaseIterable {
    case stored, free, auto

    /// The refusal of --matrix stored with --backend opencl (and no --width, which uses the device).
    public static let storedOnOpenCL = "--backend opencl conflicts with --matrix stored: the stored eigensolver factorises H∞ on the host "
        + "(LAPACK); use --matrix free for products on the device, or --backend cpu"
}

enum GramScale {
    /// `--eigensolver auto` decomposes fully up to this n, by Lanczos above.
    static let fullLimit = 4096

    /// The memory of the Lanczos eigensolver at n in each mode: one n×n buffer (H∞, then its Cholesky
    /// factor) or none, X with the tiles' scratch, and the Krylov basis.
    static func bytes(n: Int, d: Int, mode: GramMatrixMode, maxDimension: Int, workers: Int) -> Double {
        let nn = Double(n)
        let basis = Double(min(maxDimension, n) + 64) * nn * 8 * 2
        let common = basis + ArcCosineTiles.scratchBytes(n: n, workers: workers) * 1.5 + nn * Double(d) * 8 * 3
        return mode == .stored ? common + nn * nn * 8 : common
    }

    /// The largest n whose `bytes` fit in `have`.
    static func largest(have: Double, d: Int, mode: GramMatrixMode, maxDimension: Int, workers: Int) -> Int {
        var (lo, hi) = (0, 1 << 34)
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if bytes(n: mid, d: d, mode: mode, maxDimension: maxDimension, workers: workers) <= have { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The mode the run uses, after the preflight: refuses, naming the largest n of both modes, a size
    /// that does not fit the mode asked for (auto: stored if it fits, else free).
    static func resolveMode(_ asked: GramMatrixMode, n: Int, d: Int, maxDimension: Int, workers: Int) throws -> GramMatrixMode {
        let (have, source) = MemoryPreflight.available()
        let fits = { (m: GramMatrixMode) in bytes(n: n, d: d, mode: m, maxDimension: maxDimension, workers: workers) <= have }
        let mode: GramMatrixMode = asked == .auto ? (fits(.stored) ? .stored : .free) : asked
        guard !fits(mode) else { return mode }
        let need = bytes(n: n, d: d, mode: mode, maxDimension: maxDimension, workers: workers)
        let stored = largest(have: have, d: d, mode: .stored, maxDimension: maxDimension, workers: workers)
        let free = largest(have: have, d: d, mode: .free, maxDimension: maxDimension, workers: workers)
        throw BackendError.resources("gram at n = \(n) with --matrix \(mode.rawValue) needs \(MemoryPreflight.gb(need)) of host memory but "
            + "\(MemoryPreflight.gb(have)) is available (\(source)); the largest n that fits is \(stored) with --matrix stored, "
            + "\(free) with --matrix free")
    }

    /// The mode asked for: --backend opencl asks for the device's products, which only the
    /// matrix-free mode has (auto becomes free; stored is refused unless --width uses the device).
    static func askedMode(_ cfg: GramExperiment.Config) throws -> GramMatrixMode {
        if cfg.matrix == .stored && cfg.backend == .opencl && cfg.width == nil { throw BackendError(GramMatrixMode.storedOnOpenCL) }
        return cfg.backend == .opencl && cfg.matrix == .auto ? .free : cfg.matrix
    }

    /// The peak resident memory of this process (VmHWM), in bytes.
    static func peakMemory() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Double(line.split(separator: " ").dropFirst().first ?? "").map { $0 * 1024 }
        }
        return nil
    }

    static func run(_ cfg: GramExperiment.Config, inputs: TrainInputs, net: EmpiricalNet, notes inputNotes: [String]) throws -> RunOutcome {
        let (n, d) = (inputs.n, inputs.d)
        var notes = inputNotes
        let workers = ProcessInfo.processInfo.activeProcessorCount
        let maxDimension = cfg.maxDimension ?? 1024
        let mode = try resolveMode(try askedMode(cfg), n: n, d: d, maxDimension: maxDimension, workers: workers)
        let tiles = ArcCosineTiles(x: inputs.x, n: n, d: d)
        var backendInfo: BackendInfo? = nil
        var choice: BackendSelection.Choice? = nil
        if mode == .free || cfg.width != nil {
            let made = try BackendSelection.make(kind: cfg.backend, device: cfg.device, precision: cfg.precision)
            if let note = made.note { notes.insert(note, at: 0) }
            choice = made
            backendInfo = made.backend.info
        }
        // The matrix-free products on an OpenCL device (f64), else on the host's cores.
        var device: DeviceArcCosineProduct? = nil
        if mode == .free, let backend = choice?.backend as? OpenCLBackend {
            if backend.info.supportsF64 || cfg.backend == .opencl {
                device = try DeviceArcCosineProduct(backend: backend, tiles: tiles)
                notes.append("H∞ products on \(backend.info.deviceName) (gram.cl arccos_product, f64); the Krylov basis on the host")
            } else {
                notes.append("\(backend.info.deviceName) has no f64, so H∞'s products run on the host's cores")
            }
        }
        let storageBound = device == nil ? tiles.storageBound : tiles.deviceStorageBound
        let apply: ([Double], Int) throws -> [Double] = { v, b in try device?.apply(v, vectors: b) ?? tiles.product(v, vectors: b) }
        var options = KernelEigensolver.Options()
        options.count = min(cfg.eigenvalues ?? 6, n)
        options.tolerance = cfg.tolerance ?? 1e-10
        options.maxDimension = maxDimension
        options.block = cfg.block ?? (mode == .stored ? 8 : 16)
        options.seed = cfg.seed
        let log = Log.logger("gram")
        let bar = ProgressBar(total: min(maxDimension, n), label: "gram \(mode == .stored ? "shift-invert" : "matrix-free") Lanczos, dimension", quiet: cfg.quiet)
        let started = Date()
        var result: KernelEigensolver.Result
        switch mode {
        case .stored:
            result = try KernelEigensolver.stored(n: n, options: options, storageBound: storageBound, trace: tiles.trace, progress: { stage, dim, worst in
                bar.update(step: dim, loss: nil)
                log.debug("Lanczos \(stage): dimension \(dim), worst residual over |θ| \(worst)")
            }, fill: { tiles.fill(&$0) }, apply: { v, b in tiles.product(v, vectors: b) })
        case .free, .auto:
            result = try KernelEigensolver.free(n: n, options: options, storageBound: storageBound, trace: tiles.trace, progress: { stage, dim, worst in
                bar.update(step: dim, loss: nil)
                log.debug("Lanczos \(stage): dimension \(dim), worst residual over |θ| \(worst)")
            }, apply: apply)
        }
        bar.finish()
        let seconds = Date().timeIntervalSince(started)
        notes.append("λ0 by \(result.method): Krylov dimension \(result.dimension), \(result.blockProducts) block products "
            + "(\(result.vectorProducts) vectors)\(result.factorisations > 0 ? ", \(result.factorisations) Cholesky factorisations" : "")"
            + (result.converged ? "" : ", stopped at --max-dimension \(maxDimension) before the residuals reached --tolerance"))
        switch result.certificate {
        case "interval":
            notes.append(String(format: "λ0 certified in [%.12g, %.12g]: H∞ − σI is positive definite (Cholesky) at σ below the residual's interval, "
                + "so no eigenvalue lies below; error = residual %.2e + product rounding %.2e + factorisation %.2e + storage %.2e",
                result.lower ?? .nan, result.upper, result.residualBound, result.productBound, result.choleskyBound, result.storageBound))
        case "failed":
            notes.append("the certificate failed: Cholesky of H∞ − σI broke down below the smallest Ritz value, so an eigenvalue Lanczos did not find "
                + "may lie lower; lambda0_error is the distance to the nearest eigenvalue only")
        default:
            notes.append(String(format: "matrix-free: an eigenvalue lies within %.2e of λ0 (residual %.2e + rounding); without a factorisation "
                + "nothing proves that none lies below it (λ0 ≤ %.12g is proven)", result.error, result.residualBound, result.upper))
        }
        notes.append(mode == .stored
            ? String(format: "gram_inf.npy is not written by the Lanczos eigensolver (n×n = %@); --eigensolver full keeps it up to the memory", MemoryPreflight.gb(Double(n) * Double(n) * 8))
            : device != nil ? "H∞ was never stored: the device recomputed every entry in each product; gram_inf.npy is not written"
            : "H∞ was never stored: each product recomputed its \(tiles.tiles) tiles of \(ArcCosineTiles.tileRows) rows from X; gram_inf.npy is not written")
        notes.append("no spectrum-decay fit: it needs the whole spectrum (--eigensolver full)")

        var h0: KernelEigensolver.Result? = nil
        var h0Frobenius: Double? = nil, h0Spectral: Double? = nil
        if let m = cfg.width, let choice {
            let masks = try MaskTiles.of(choice.backend, inputs: inputs, net: net, cfg: cfg)
            var o = options
            o.block = cfg.block ?? 16
            h0 = try KernelEigensolver.free(n: n, options: o, storageBound: 0, trace: tiles.trace) { v, b in masks.product(v, vectors: b) }
            h0Frobenius = masks.deviation(from: tiles)
            // ‖D‖₂ with D = H(0) − H∞ indefinite: the top of D² (two products of each a vector).
            let difference = { (v: [Double], b: Int) throws -> [Double] in
                let a = masks.product(v, vectors: b), h = try apply(v, b)
                return zip(a, h).map { $0 - $1 }
            }
            let top = try BlockLanczos.run(n: n, block: min(4, n), count: 1, end: .largest, maxDimension: min(n, 256), tolerance: 1e-8,
                                           seed: cfg.seed) { v, b in try difference(try difference(v, b), b) }
            h0Spectral = top.values.first.map { max($0, 0).squareRoot() }
            notes.append("λ_min(H(0)) by block Lanczos on H(0), each product from tiles of the packed masks (no n×n counts); "
                + "its error is the distance to the nearest eigenvalue")
            notes.append(String(format: "gram_deviation_spectral = √θ for the top Ritz value θ of (H(0) − H∞)² by block Lanczos (Krylov dimension %d): "
                + "a lower bound on ‖H(0) − H∞‖₂, an eigenvalue of the square within %.2e of θ%@", top.dimension, top.residuals.first ?? .nan,
                top.converged ? "" : " (not converged)"))
        }
        let scale = GramScaleResult(cfg: cfg, n: n, d: d, mode: mode, result: result, seconds: seconds, peak: peakMemory(),
                                    h0: h0, h0Frobenius: h0Frobenius, h0Spectral: h0Spectral, backendInfo: backendInfo, notes: notes)
        scale.x = inputs.x
        return try RunHarness.run(command: "gram", out: cfg.out, control: RunControl(checkpoints: false), quiet: true) { _, _ in scale }
    }
}

/// The empirical H(0)_ij = x_iᵀx_j·#{r : S_ir = S_jr = 1}/m of a random net as tiles from its packed
/// masks (n × words per block, on the host): the counts of a tile of rows by popcount, never n×n.
struct MaskTiles: @unchecked Sendable {
    let n: Int, d: Int, width: Int
    /// Per block, its masks (n rows of `words` UInt32).
    let masks: [(words: Int, bits: [UInt32])]
    let x: [Double]

    static func of(_ backend: any Backend, inputs: TrainInputs, net given: EmpiricalNet, cfg: GramExperiment.Config) throws -> MaskTiles {
        func build<T: Scalar>(_: T.Type) throws -> MaskTiles {
            guard Job.ranks == 1 else {
                throw BackendError("gram --eigensolver lanczos --width runs in one process (its mask tiles are not split over ranks)")
            }
            let net = try given.make(T.self, on: backend, inputs: inputs, cfg: cfg)
            let masks = try net.blocks.map { b in (b.shape.words, try backend.download(b.masks, count: b.shape.maskWords, as: UInt32.self)) }
            return MaskTiles(n: inputs.n, d: inputs.d, width: given.width, masks: masks, x: inputs.x)
        }
        return cfg.precision == .f32 ? try build(Float.self) : try build(Double.self)
    }

    /// counts[r·n + j] = Σ_blocks popcount(S_i ∧ S_j) for the rows i of `rows`.
    func counts(rows: Range<Int>, into c: UnsafeMutablePointer<UInt32>) {
        let n = self.n
        for r in 0..<(rows.count * n) { c[r] = 0 }
        for (words, bits) in masks {
            bits.withUnsafeBufferPointer { bp in
                let M = bp.baseAddress!
                for (r, i) in rows.enumerated() {
                    let mi = M + i * words
                    for j in 0..<n {
                        let mj = M + j * words
                        var s = 0
                        for q in 0..<words { s += (mi[q] & mj[q]).nonzeroBitCount }
                        c[r * n + j] &+= UInt32(truncatingIfNeeded: s)
                    }
                }
            }
        }
    }

    /// The rows `rows` of H(0) (rows.count × n).
    func fill(rows: Range<Int>, into out: UnsafeMutablePointer<Double>, counts c: UnsafeMutablePointer<UInt32>) {
        counts(rows: rows, into: c)
        let (n, d, m) = (self.n, self.d, Double(width))
        x.withUnsafeBufferPointer { xp in
            let X = xp.baseAddress!
            for (r, i) in rows.enumerated() {
                for j in 0..<n {
                    var g = 0.0
                    for k in 0..<d { g += X[i * d + k] * X[j * d + k] }
                    out[r * n + j] = g * Double(c[r * n + j]) / m
                }
            }
        }
    }

    /// Y = H(0)·V for b vectors (b×n), by row tiles over the cores (each tile by one thread).
    func product(_ v: [Double], vectors b: Int) -> [Double] {
        var y = [Double](repeating: 0, count: b * n)
        let n = self.n, count = (n + ArcCosineTiles.tileRows - 1) / ArcCosineTiles.tileRows
        let parts = min(ProcessInfo.processInfo.activeProcessorCount, count)
        v.withUnsafeBufferPointer { vp in
            y.withUnsafeMutableBufferPointer { yp in
                let (V, Y) = (TileOutput(UnsafeMutablePointer(mutating: vp.baseAddress!)), TileOutput(yp.baseAddress!))
                BLAS.singleThreaded {
                    DispatchQueue.concurrentPerform(iterations: parts) { p in
                        let k = UnsafeMutablePointer<Double>.allocate(capacity: ArcCosineTiles.tileRows * n)
                        let c = UnsafeMutablePointer<UInt32>.allocate(capacity: ArcCosineTiles.tileRows * n)
                        defer { k.deallocate(); c.deallocate() }
                        for tile in (count * p / parts)..<(count * (p + 1) / parts) {
                            let rows = (tile * ArcCosineTiles.tileRows)..<min(n, (tile + 1) * ArcCosineTiles.tileRows)
                            self.fill(rows: rows, into: k, counts: c)
                            ArcCosineTiles.tileProduct(k, rows: rows, n: n, v: V.pointer, vectors: b, into: Y.pointer)
                        }
                    }
                }
            }
        }
        return y
    }

    /// ‖H(0) − H∞‖_F, summed over the same tiles (in tile order).
    func deviation(from tiles: ArcCosineTiles) -> Double {
        let t = ArcCosineTiles.tileRows, count = (n + t - 1) / t
        var total = 0.0
        let k = UnsafeMutablePointer<Double>.allocate(capacity: t * n), h = UnsafeMutablePointer<Double>.allocate(capacity: t * n)
        let c = UnsafeMutablePointer<UInt32>.allocate(capacity: t * n), s = UnsafeMutablePointer<Double>.allocate(capacity: t * n)
        defer { k.deallocate(); h.deallocate(); c.deallocate(); s.deallocate() }
        BLAS.singleThreaded {
            for tile in 0..<count {
                let rows = (tile * t)..<min(n, (tile + 1) * t)
                fill(rows: rows, into: k, counts: c)
                tiles.fill(rows: rows, into: h, stride: n, scratch: s)
                for q in 0..<(rows.count * n) { total += (k[q] - h[q]) * (k[q] - h[q]) }
            }
        }
        return total.squareRoot()
    }
}

/// The figures of a Lanczos run of `widenet gram`, as a run of no steps.
final class GramScaleResult: SteppedRun {
    let cfg: GramExperiment.Config
    let n: Int, d: Int, mode: GramMatrixMode
    let result: KernelEigensolver.Result
    let seconds: Double, peak: Double?
    let h0: KernelEigensolver.Result?, h0Frobenius: Double?, h0Spectral: Double?
    let backendInfo: BackendInfo?
    let notes: [String]

    var command: String { "gram" }
    var steps: Int { 0 }
    /// The rows as used (unit norm), kept as x.npy.
    var x: [Double] = []

    func writeInputs(in run: RunDirectory) throws { try GramExperiment.keepInputs(x, n: n, d: d, in: run) }

    init(cfg: GramExperiment.Config, n: Int, d: Int, mode: GramMatrixMode, result: KernelEigensolver.Result, seconds: Double, peak: Double?,
         h0: KernelEigensolver.Result?, h0Frobenius: Double?, h0Spectral: Double?, backendInfo: BackendInfo?, notes: [String]) {
        self.cfg = cfg; self.n = n; self.d = d; self.mode = mode; self.result = result; self.seconds = seconds; self.peak = peak
        self.h0 = h0; self.h0Frobenius = h0Frobenius; self.h0Spectral = h0Spectral; self.backendInfo = backendInfo; self.notes = notes
    }

    func config() -> JSONObject {
        RecordedConfig.json(command: "gram", options: cfg, resolved: [
            ("n", .int(n)), ("d", .int(d)), ("eigensolver", .string("lanczos")), ("matrix", .string(mode.rawValue)),
            ("backend", backendInfo.map { .string($0.kind) } ?? .null),
            ("device", backendInfo.map { .string($0.deviceName) } ?? .null), ("notes", .array(notes.map { .string($0) })),
        ])
    }

    func observe(_ k: Int) throws -> Observation {
        var row = JSONObject()
        row.set("step", 0)
        row["loss"] = .null
        row.set("lambda0", result.values.first ?? .nan)
        row.set("lambda0_error", result.error)
        if let h0, let m = cfg.width { row.set("width", m); row.set("lambda_min_h0", h0.values.first ?? .nan) }
        return Observation(loss: nil, row: row)
    }

    func advance(from k: Int) throws {}

    func finish(in run: RunDirectory) throws -> JSONObject {
        let k = result.values.count
        try run.writeArray(result.values, shape: [k], to: "gram_inf_smallest_eigenvalues.npy")
        try run.writeArray(result.vectors.flatMap { $0 }, shape: [k, n], to: "gram_inf_smallest_eigenvectors.npy")
        var s = GramExperiment.Summary(n: n, d: d, lambda0: result.values.first, lambdaMax: nil, conditionNumber: nil,
                                       width: h0 == nil ? nil : cfg.width, gramDeviationFrobenius: h0Frobenius, gramDeviationSpectral: h0Spectral,
                                       lambdaMinH0: h0?.values.first, spectrumDecay: nil)
        s.eigensolver = "lanczos"; s.matrix = mode.rawValue; s.method = result.method
        s.lambda0Error = result.error; s.lambda0Lower = result.lower; s.lambda0Upper = result.upper; s.certificate = result.certificate
        s.smallestEigenvalues = result.values; s.residuals = result.residuals
        s.krylovDimension = result.dimension; s.blockProducts = result.blockProducts; s.vectorProducts = result.vectorProducts
        s.factorisations = result.factorisations; s.converged = result.converged; s.seconds = seconds
        s.lambdaMinH0Error = h0?.error
        return try ConfigCoding.object(s)
    }
}
