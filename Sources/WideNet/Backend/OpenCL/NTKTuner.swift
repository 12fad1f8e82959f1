import Foundation

/// Tries NTK tile candidates on one device at one block shape: each is first checked against the
/// variant-1 kernels (u, masks and the updated W), then timed; the forward tiles are tuned with
/// the backward fixed and then the backward with the best forward (the two kernels are
/// independent), and the fastest pair is cached for the device and driver (NTKTuningDatabase).
public enum NTKTuner {
    public struct Trial: Sendable {
        public let config: NTKKernelConfig
        /// Median seconds of the kernel pass being tuned (forward, or backward-and-update).
        public let seconds: Double
        public let pass: String
        public let accepted: Bool
        public let note: String?
    }

    public static func forwardCandidates(_ limits: LaunchLimits, scalar: Int) -> [Forward] {
        var out: [(Int, Int, Int, Int, Int)] = []
        for tm in [64, 128] { for tn in [32, 64, 128] { for kc in [8, 16] { for (rm, rn) in [(4, 4), (8, 4), (8, 8)] {
            out.append((tm, tn, kc, rm, rn))
        } } } }
        return out.filter { c in
            NTKKernelConfig.tiled(forward: c.0, c.1, c.2, c.3, c.4, backward: 64, 32, 32, 4, 4).fits(limits, scalarBytes: scalar)
                && (c.0 / c.3) * (c.1 / c.4) >= 64
        }.map { (tm: $0.0, tn: $0.1, kc: $0.2, rm: $0.3, rn: $0.4) }
    }

    public static func backwardCandidates(_ limits: LaunchLimits, scalar: Int) -> [Backward] {
        var out: [(Int, Int, Int, Int, Int)] = []
        for bm in [32, 64, 128] { for bd in [32, 64] { for bs in [16, 32] { for (rm, rd) in [(2, 4), (4, 4), (4, 8), (8, 8)] {
            out.append((bm, bd, bs, rm, rd))
        } } } }
        return out.filter { c in
            NTKKernelConfig.tiled(forward: 64, 32, 16, 4, 4, backward: c.0, c.1, c.2, c.3, c.4).fits(limits, scalarBytes: scalar)
                && (c.0 / c.3) * (c.1 / c.4) >= 64
        }.map { (bm: $0.0, bd: $0.1, bs: $0.2, rm: $0.3, rd: $0.4) }
    }

    public typealias Forward = (tm: Int, tn: Int, kc: Int, rm: Int, rn: Int)
    public typealias Backward = (bm: Int, bd: Int, bs: Int, rm: Int, rd: Int)

    /// `forward` and `backward` replace the candidate grids (the tests try a few).
    public static func tune(_ backend: OpenCLBackend, n: Int, d: Int, width: Int, precision: Precision, repeats: Int = 3,
                            store: Bool = true, forward: [Forward]? = nil, backward: [Backward]? = nil,
                            progress: (String) -> Void = { _ in }) throws -> (best: NTKKernelConfig, trials: [Trial]) {
        let limits = backend.cl.limits, b = precision.bytes
        let f = forward ?? forwardCandidates(limits, scalar: b), k = backward ?? backwardCandidates(limits, scalar: b)
        switch precision {
        case .f32: return try run(Float.self, backend, NTKBlockShape(n: n, d: d, width: width), repeats, store, f, k, progress)
        case .f64: return try run(Double.self, backend, NTKBlockShape(n: n, d: d, width: width), repeats, store, f, k, progress)
        }
    }

    static func run<T: Scalar>(_: T.Type, _ gpu: OpenCLBackend, _ s: NTKBlockShape, _ repeats: Int, _ store: Bool,
                               _ forward: [Forward], _ backward: [Backward],
                               _ progress: (String) -> Void) throws -> (best: NTKKernelConfig, trials: [Trial]) {
        let info = gpu.cl.device.info
        let b = MemoryLayout<T>.stride
        let data = SyntheticData.sphere(n: s.n, d: s.d, seed: 11)
        let x = try gpu.allocate(bytes: s.n * s.d * b), w = try gpu.allocate(bytes: s.width * s.d * b)
        let a = try gpu.allocate(bytes: s.width * b), e = try gpu.allocate(bytes: s.n * b)
        let masks = try gpu.allocate(bytes: s.maskWords * 4), u = try gpu.allocate(bytes: s.n * b)
        let w0 = try gpu.allocate(bytes: s.width * s.d * b)
        try gpu.upload(data.x.map { T($0) }, to: x)
        try gpu.fillRandom(w0, count: s.width * s.d, offset: 0, seed: 11, stream: 1, step: 0, distribution: .normal, scale: T(1))
        try gpu.fillRandom(a, count: s.width, offset: 0, seed: 11, stream: 2, step: 0, distribution: .rademacher, scale: T(1))
        try gpu.upload(data.y.map { T($0) }, to: e)
        let scale = T(0.1 / Double(s.width).squareRoot())

        // The variant-1 results every candidate must reproduce.
        func pass(_ c: NTKKernelConfig) throws -> (u: [T], masks: [UInt32], w: [T]) {
            try gpu.copy(w0, to: w, bytes: s.width * s.d * b)
            try gpu.ntkForward(s, x: x, w: w, a: a, masks: masks, partialU: u, as: T.self, config: c)
            let uv = try gpu.download(u, count: s.n, as: T.self), mv = try gpu.download(masks, count: s.maskWords, as: UInt32.self)
            try gpu.ntkBackwardUpdate(s, x: x, w: w, a: a, masks: masks, residual: e, scale: scale, trainOutput: false, config: c)
            return (uv, mv, try gpu.download(w, count: s.width * s.d, as: T.self))
        }
        let ref = try pass(.reference)
        let eps = T.precision == .f32 ? 1.2e-7 : 2.3e-16
        func agrees(_ got: (u: [T], masks: [UInt32], w: [T])) -> String? {
            let du = zip(got.u, ref.u).map { abs(Double($0) - Double($1)) }.max() ?? 0
            if !(du <= 64 * eps * Double(s.width).squareRoot() * Double(s.d).squareRoot()) { return "u differs by \(du)" }
            let badWords = zip(got.masks, ref.masks).filter { ($0 ^ $1).nonzeroBitCount >= 4 }.count
            if badWords > 0 { return "\(badWords) mask words differ" }
            let dw = zip(got.w, ref.w).map { abs(Double($0) - Double($1)) }.max() ?? 0
            if !(dw <= 64 * eps * Double(s.n) * Double(scale) + 16 * eps * 4) { return "W differs by \(dw)" }
            return nil
        }
        func median(_ body: () throws -> Void) throws -> Double {
            try body(); try gpu.synchronize()
            var times: [Double] = []
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body(); try gpu.synchronize()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            return times.sorted()[times.count / 2]
        }
        var trials: [Trial] = []
        var best = NTKTuningDatabase.config(for: info, precision: T.precision)
        if best.variant == 1 { best = .tiled(forward: 64, 32, 16, 4, 4, backward: 64, 32, 32, 4, 4) }
        var bestForward = Double.infinity, bestBackward = Double.infinity
        for f in forward {
            var c = best
            (c.tm, c.tn, c.kc, c.rm, c.rn) = (f.tm, f.tn, f.kc, f.rm, f.rn)
            do {
                if let why = agrees(try pass(c)) { trials.append(Trial(config: c, seconds: .nan, pass: "forward", accepted: false, note: why)); continue }
                let t = try median { try gpu.ntkForward(s, x: x, w: w, a: a, masks: masks, partialU: u, as: T.self, config: c) }
                trials.append(Trial(config: c, seconds: t, pass: "forward", accepted: true, note: nil))
                progress(String(format: "forward %@: %.3f ms", c.description, t * 1e3))
                if t < bestForward { bestForward = t; (best.tm, best.tn, best.kc, best.rm, best.rn) = (c.tm, c.tn, c.kc, c.rm, c.rn) }
            } catch {
                trials.append(Trial(config: c, seconds: .nan, pass: "forward", accepted: false, note: "\(error)"))
            }
        }
        for k in backward {
            var c = best
            (c.bm, c.bd, c.bs, c.brm, c.brd) = (k.bm, k.bd, k.bs, k.rm, k.rd)
            do {
                if let why = agrees(try pass(c)) { trials.append(Trial(config: c, seconds: .nan, pass: "backward", accepted: false, note: why)); continue }
                let t = try median {
                    try gpu.ntkBackwardUpdate(s, x: x, w: w, a: a, masks: masks, residual: e, scale: scale, trainOutput: false, config: c)
                }
                trials.append(Trial(config: c, seconds: t, pass: "backward", accepted: true, note: nil))
                progress(String(format: "backward %@: %.3f ms", c.description, t * 1e3))
                if t < bestBackward { bestBackward = t; (best.bm, best.bd, best.bs, best.brm, best.brd) = (c.bm, c.bd, c.bs, c.brm, c.brd) }
            } catch {
                trials.append(Trial(config: c, seconds: .nan, pass: "backward", accepted: false, note: "\(error)"))
            }
        }
        if store && bestForward.isFinite && bestBackward.isFinite {
            try NTKTuningDatabase.store(best, for: info, precision: T.precision)
        }
        return (best, trials)
    }
}
