import Foundation

/// The data sets of `--dataset sphere|teacher` and the input preparation every NTK run shares.
public enum SyntheticData {
    /// Rows scaled to unit norm (x_i / ‖x_i‖); rows of norm 0 are left as they are (the caller rejects them).
    public static func unitRows(_ x: [Double], n: Int, d: Int) -> [Double] {
        var out = x
        for i in 0..<n {
            let (scale, norm) = scaledNorm(x, row: i, d: d)
            guard norm > 0 else { continue }
            for k in 0..<d { out[i * d + k] = x[i * d + k] / scale / norm }
        }
        return out
    }

    /// Row i's largest |entry| s and ‖x_i‖/s, so that rows near the ends of Double's range (1e300, 1e-320)
    /// have a norm: Σx² itself would overflow to ∞ or underflow to 0. (1, 0) for a zero row.
    public static func scaledNorm(_ x: [Double], row i: Int, d: Int) -> (scale: Double, norm: Double) {
        let s = (0..<d).reduce(0.0) { max($0, abs(x[i * d + $1])) }
        guard s > 0 else { return (1, 0) }
        return (s, (0..<d).reduce(0.0) { let v = x[i * d + $1] / s; return $0 + v * v }.squareRoot())
    }

    /// X Xᵀ (n×n) in double precision.
    public static func inputGram(_ x: [Double], n: Int, d: Int) -> [Double] {
        var g = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for k in 0..<d { s += x[i * d + k] * x[j * d + k] }
                g[i * n + j] = s
                g[j * n + i] = s
            }
        }
        return g
    }

    /// Uniform points on the unit sphere S^{d−1} (normalised Gaussians) and labels uniform in (−1, 1),
    /// all from Philox streams of `seed`.
    public static func sphere(n: Int, d: Int, seed: UInt64) -> (x: [Double], y: [Double]) {
        let g = PhiloxGenerator(seed: seed)
        let raw: [Double] = g.array(count: n * d, stream: RandomStream.data.rawValue, step: 0, distribution: .normal, scale: 1.0)
        let u: [Double] = g.array(count: n, stream: RandomStream.labels.rawValue, step: 0, distribution: .uniform, scale: 1.0)
        return (unitRows(raw, n: n, d: d), u.map { 2 * $0 - 1 })
    }

    /// Sphere inputs with labels from a random ReLU teacher of `teacherWidth` units,
    /// y = Σ_j v_j relu(w_jᵀx) / √k scaled to unit root-mean-square.
    /// The teacher's hidden weights (k×d, its units' directions): what a net that learns features aligns with.
    public static func teacherWeights(d: Int, seed: UInt64, teacherWidth k: Int = 8) -> [Double] {
        PhiloxGenerator(seed: seed).array(count: k * d, stream: RandomStream.teacher.rawValue, step: 0, distribution: .normal, scale: 1.0)
    }

    public static func teacher(n: Int, d: Int, seed: UInt64, teacherWidth k: Int = 8) -> (x: [Double], y: [Double]) {
        let x = sphere(n: n, d: d, seed: seed).x
        let g = PhiloxGenerator(seed: seed)
        let w = teacherWeights(d: d, seed: seed, teacherWidth: k)
        let v: [Double] = g.array(count: k, offset: UInt64(k * d), stream: RandomStream.teacher.rawValue, step: 0,
                                  distribution: .rademacher, scale: 1.0)
        var y = (0..<n).map { i in
            (0..<k).reduce(0.0) { acc, j in
                acc + v[j] * max(0, (0..<d).reduce(0.0) { $0 + w[j * d + $1] * x[i * d + $1] })
            } / Double(k).squareRoot()
        }
        let rms = (y.map { $0 * $0 }.reduce(0, +) / Double(max(n, 1))).squareRoot()
        if rms > 0 { y = y.map { $0 / rms } }
        return (x, y)
    }
}
