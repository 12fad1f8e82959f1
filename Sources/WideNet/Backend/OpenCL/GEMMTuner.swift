import Foundation

/// Tries the GEMM tile candidates on one device, rejects any whose result differs from the
/// reference kernel's, and caches the fastest for the device and driver (GEMMTuningDatabase).
public enum GEMMTuner {
    public struct Trial: Sendable {
        public let config: GEMMKernelConfig
        public let seconds: Double
        public let gflops: Double
        public let maxRelativeError: Double
        public let accepted: Bool
        public let note: String?
    }

    public static func tune(_ backend: OpenCLBackend, size: Int, precision: Precision, repeats: Int = 5,
                            store: Bool = true, progress: (String) -> Void = { _ in }) throws -> [Trial] {
        switch precision {
        case .f32: return try run(Float.self, backend, size, repeats, store, progress)
        case .f64: return try run(Double.self, backend, size, repeats, store, progress)
        }
    }

    static func run<T: Scalar>(_: T.Type, _ backend: OpenCLBackend, _ size: Int, _ repeats: Int, _ store: Bool,
                               _ progress: (String) -> Void) throws -> [Trial] {
        let info = backend.cl.device.info
        let shape = GEMMShape(m: size, n: size, k: size)
        let a = try backend.allocate(bytes: size * size * MemoryLayout<T>.stride)
        let b = try backend.allocate(bytes: size * size * MemoryLayout<T>.stride)
        let c = try backend.allocate(bytes: size * size * MemoryLayout<T>.stride)
        try backend.fillRandom(a, count: size * size, offset: 0, seed: 7, stream: 1, step: 0, distribution: .normal, scale: T(1))
        try backend.fillRandom(b, count: size * size, offset: 0, seed: 7, stream: 2, step: 0, distribution: .normal, scale: T(1))
        try backend.gemm(shape, a, b, c, alpha: T(1), beta: T(0), config: .reference)
        let reference = try backend.download(c, count: size * size, as: T.self)
        let refNorm = reference.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let tolerance = (T.precision == .f32 ? 1e-5 : 1e-13) * Double(size).squareRoot()

        var trials: [Trial] = []
        for config in GEMMTuningDatabase.candidates(for: info, precision: T.precision) {
            do {
                try backend.upload([T](repeating: .nan, count: size * size), to: c)
                try backend.gemm(shape, a, b, c, alpha: T(1), beta: T(0), config: config)
                let got = try backend.download(c, count: size * size, as: T.self)
                let err = zip(got, reference).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
                    .squareRoot() / max(refNorm, 1e-300)
                guard err.isFinite, err <= tolerance else {
                    trials.append(Trial(config: config, seconds: .nan, gflops: .nan, maxRelativeError: err, accepted: false,
                                        note: "result differs from the reference kernel (relative error \(err))"))
                    continue
                }
                var times: [Double] = []
                for _ in 0..<repeats {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try backend.gemm(shape, a, b, c, alpha: T(1), beta: T(0), config: config)
                    try backend.synchronize()
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                }
                let t = times.sorted()[times.count / 2]
                trials.append(Trial(config: config, seconds: t, gflops: shape.flops / t / 1e9, maxRelativeError: err,
                                    accepted: true, note: nil))
                progress(String(format: "%@: %.1f GFLOP/s", config.description, shape.flops / t / 1e9))
            } catch {
                trials.append(Trial(config: config, seconds: .nan, gflops: .nan, maxRelativeError: .nan, accepted: false,
                                    note: "\(error)"))
            }
        }
        let ranked = trials.sorted { ($0.accepted ? $0.gflops : -1) > ($1.accepted ? $1.gflops : -1) }
        if store, let best = ranked.first, best.accepted {
            try GEMMTuningDatabase.store(best.config, for: info, precision: T.precision)
        }
        return ranked
    }
}
