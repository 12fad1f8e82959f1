import Foundation

/// Residual blocks added one at a time (`widenet resnet --experiment boost`), two ways, on the host
/// in f64 (the blocks are small; the point is the dynamics):
///
/// - boosting (Nitanda–Suzuki's functional-gradient view): at the current features Z (P×D) the
///   negative functional gradient of the loss is G = −∂ℓ/∂Z = −(r/P)wᵀ, r = f − y. The new block
///   F(z) = V tanh(Uz + c) takes random U, c and the V of the ridge least-squares fit of A Vᵀ to G
///   (A = tanh(ZUᵀ + c)), the projection of the functional gradient on the block class; the step
///   η = argmin ℓ(Z + ηF) (a quadratic in η: a Frank–Wolfe step with exact line search), then the
///   read-out (w, b) is refit by ridge least squares.
/// - layer by layer: the same new block (the same U, c; V = 0) and the read-out trained by `gdSteps`
///   GD steps with the earlier blocks frozen.
///
/// Both start from Z = XEᵀ (E = [I; 0]) and the least-squares read-out.
public struct ResidualBoosting {
    public struct Block: Sendable {
        public var u: [Double], c: [Double], v: [Double]
    }

    public let dim: Int, width: Int, inputs: Int
    public let ridge: Double
    public private(set) var blocks: [Block] = []
    public private(set) var w: [Double], b: Double
    /// The training features after the blocks so far, and their labels.
    var z: [Double]
    let y: [Double]
    let points: Int

    public init(x: [Double], y: [Double], points p: Int, inputs d0: Int, dim: Int, width: Int, ridge: Double) {
        self.dim = dim; self.width = width; inputs = d0; self.ridge = ridge; self.y = y; points = p
        z = Self.embed(x, points: p, inputs: d0, dim: dim)
        (w, b) = Self.readout(z, y, points: p, dim: dim, ridge: ridge)
    }

    /// x ↦ (x, 0) (E = [I; 0]; the first D coordinates when D < d₀).
    static func embed(_ x: [Double], points p: Int, inputs d0: Int, dim: Int) -> [Double] {
        var z = [Double](repeating: 0, count: p * dim)
        for i in 0..<p { for k in 0..<min(d0, dim) { z[i * dim + k] = x[i * d0 + k] } }
        return z
    }

    /// The ridge least-squares read-out of y on [Z, 1] (the bias unpenalised).
    static func readout(_ z: [Double], _ y: [Double], points p: Int, dim: Int, ridge: Double) -> ([Double], Double) {
        let k = dim + 1
        var a = [Double](repeating: 0, count: k * k), rhs = [Double](repeating: 0, count: k)
        for i in 0..<p {
            for r in 0..<k {
                let zr = r < dim ? z[i * dim + r] : 1
                rhs[r] += zr * y[i]
                for s in 0..<k { a[r * k + s] += zr * (s < dim ? z[i * dim + s] : 1) }
            }
        }
        for r in 0..<dim { a[r * k + r] += ridge * Double(p) }
        let sol = solveSymmetric(a, rhs, size: k, columns: 1)
        return (Array(sol[0..<dim]), sol[dim])
    }

    /// Solves A X = B for symmetric positive-definite A (k×k) and B (k×columns, row-major) by
    /// Cholesky; a tiny diagonal shift is added until it factorises.
    static func solveSymmetric(_ a: [Double], _ b: [Double], size k: Int, columns: Int) -> [Double] {
        var shift = 0.0
        let scale = (0..<k).map { a[$0 * k + $0] }.max() ?? 1
        while true {
            var m = a, x = b
            for i in 0..<k { m[i * k + i] += shift }
            var ok = true
            // In-place Cholesky m = L Lᵀ (lower).
            for j in 0..<k {
                var s = m[j * k + j]
                for q in 0..<j { s -= m[j * k + q] * m[j * k + q] }
                guard s > 0 else { ok = false; break }
                let d = s.squareRoot()
                m[j * k + j] = d
                for i in (j + 1)..<max(j + 1, k) {
                    var t = m[i * k + j]
                    for q in 0..<j { t -= m[i * k + q] * m[j * k + q] }
                    m[i * k + j] = t / d
                }
            }
            if ok {
                for col in 0..<columns {
                    for i in 0..<k {        // L y = b
                        var t = x[i * columns + col]
                        for q in 0..<i { t -= m[i * k + q] * x[q * columns + col] }
                        x[i * columns + col] = t / m[i * k + i]
                    }
                    for i in stride(from: k - 1, through: 0, by: -1) {     // Lᵀ x = y
                        var t = x[i * columns + col]
                        for q in (i + 1)..<max(i + 1, k) { t -= m[q * k + i] * x[q * columns + col] }
                        x[i * columns + col] = t / m[i * k + i]
                    }
                }
                return x
            }
            shift = shift == 0 ? 1e-12 * max(scale, 1e-300) : shift * 10
        }
    }

    /// tanh(ZUᵀ + c), P×m.
    static func hidden(_ z: [Double], points p: Int, dim: Int, _ blk: Block, width m: Int) -> [Double] {
        var a = [Double](repeating: 0, count: p * m)
        for i in 0..<p {
            for j in 0..<m {
                var s = blk.c[j]
                for k in 0..<dim { s += blk.u[j * dim + k] * z[i * dim + k] }
                a[i * m + j] = Foundation.tanh(s)
            }
        }
        return a
    }

    /// Z + A Vᵀ for a block.
    static func apply(_ blk: Block, to z: [Double], points p: Int, dim: Int, width m: Int) -> [Double] {
        let a = hidden(z, points: p, dim: dim, blk, width: m)
        var out = z
        for i in 0..<p { for k in 0..<dim { var s = 0.0; for j in 0..<m { s += a[i * m + j] * blk.v[k * m + j] }; out[i * dim + k] += s } }
        return out
    }

    /// f = Zw + b.
    static func outputs(_ z: [Double], points p: Int, dim: Int, w: [Double], b: Double) -> [Double] {
        (0..<p).map { i in (0..<dim).reduce(b) { $0 + z[i * dim + $1] * w[$1] } }
    }

    public var trainLoss: Double { ResidualNet<Double>.loss(Self.outputs(z, points: points, dim: dim, w: w, b: b), y) }

    /// Outputs on other points through every block so far.
    public func predict(_ x: [Double], points p: Int) -> [Double] {
        var f = Self.embed(x, points: p, inputs: inputs, dim: dim)
        for blk in blocks { f = Self.apply(blk, to: f, points: p, dim: dim, width: width) }
        return Self.outputs(f, points: p, dim: dim, w: w, b: b)
    }

    /// Adds one boosting block with hidden weights (u, c); returns its line-searched step η.
    @discardableResult
    public mutating func boost(u: [Double], c: [Double]) -> Double {
        let (p, dim, m) = (points, self.dim, width)
        let f = Self.outputs(z, points: p, dim: dim, w: w, b: b)
        let r = (0..<p).map { f[$0] - y[$0] }
        var blk = Block(u: u, c: c, v: [Double](repeating: 0, count: dim * m))
        let a = Self.hidden(z, points: p, dim: dim, blk, width: m)
        // Ridge least squares AᵀA Vᵀ = Aᵀ G, G = −r wᵀ (scale is the line search's).
        var ata = [Double](repeating: 0, count: m * m), atg = [Double](repeating: 0, count: m * dim)
        for i in 0..<p {
            for j in 0..<m {
                let aij = a[i * m + j]
                for q in j..<m { ata[j * m + q] += aij * a[i * m + q] }
                for k in 0..<dim { atg[j * dim + k] -= aij * r[i] * w[k] }
            }
        }
        for j in 0..<m { for q in 0..<j { ata[j * m + q] = ata[q * m + j] }; ata[j * m + j] += ridge * Double(p) }
        let vt = Self.solveSymmetric(ata, atg, size: m, columns: dim)      // m×D
        for k in 0..<dim { for j in 0..<m { blk.v[k * m + j] = vt[j * dim + k] } }
        // F = A Vᵀ; q = F w; ℓ(η) = ½ mean (r + ηq)², minimised at η = −Σrq / Σq².
        let moved = Self.apply(blk, to: z, points: p, dim: dim, width: m)
        let q = Self.outputs(moved, points: p, dim: dim, w: w, b: b).enumerated().map { $0.element - f[$0.offset] }
        let qq = q.reduce(0) { $0 + $1 * $1 }
        let eta = qq > 0 ? -zip(r, q).reduce(0) { $0 + $1.0 * $1.1 } / qq : 0
        for x in blk.v.indices { blk.v[x] *= eta }
        z = Self.apply(blk, to: z, points: p, dim: dim, width: m)
        blocks.append(blk)
        (w, b) = Self.readout(z, y, points: p, dim: dim, ridge: ridge)
        return eta
    }

    /// Adds one block with hidden weights (u, c) and V = 0, and trains it with the read-out by
    /// `steps` GD steps of size `lr` (the earlier blocks frozen).
    public mutating func layerwise(u: [Double], c: [Double], steps: Int, lr: Double) {
        let (p, dim, m) = (points, self.dim, width)
        var blk = Block(u: u, c: c, v: [Double](repeating: 0, count: dim * m))
        for _ in 0..<steps {
            let a = Self.hidden(z, points: p, dim: dim, blk, width: m)
            var out = z
            for i in 0..<p { for k in 0..<dim { var s = 0.0; for j in 0..<m { s += a[i * m + j] * blk.v[k * m + j] }; out[i * dim + k] += s } }
            let f = Self.outputs(out, points: p, dim: dim, w: w, b: b)
            let r = (0..<p).map { (f[$0] - y[$0]) / Double(p) }
            var gw = [Double](repeating: 0, count: dim), gb = 0.0
            var gv = [Double](repeating: 0, count: dim * m), gu = [Double](repeating: 0, count: m * dim), gc = [Double](repeating: 0, count: m)
            for i in 0..<p {
                gb += r[i]
                for k in 0..<dim { gw[k] += r[i] * out[i * dim + k] }
                for j in 0..<m {
                    // ∂ℓ/∂a_ij = r_i Σ_k w_k V_kj; δ = that·(1 − a²).
                    var s = 0.0
                    for k in 0..<dim { s += w[k] * blk.v[k * m + j]; gv[k * m + j] += r[i] * w[k] * a[i * m + j] }
                    let delta = r[i] * s * (1 - a[i * m + j] * a[i * m + j])
                    gc[j] += delta
                    for k in 0..<dim { gu[j * dim + k] += delta * z[i * dim + k] }
                }
            }
            for q in w.indices { w[q] -= lr * gw[q] }
            b -= lr * gb
            for q in blk.v.indices { blk.v[q] -= lr * gv[q] }
            for q in blk.u.indices { blk.u[q] -= lr * gu[q] }
            for q in blk.c.indices { blk.c[q] -= lr * gc[q] }
        }
        z = Self.apply(blk, to: z, points: p, dim: dim, width: m)
        blocks.append(blk)
    }

    /// The state for a checkpoint: the blocks and the read-out.
    public var flat: [Double] { blocks.flatMap { $0.u + $0.c + $0.v } + w + [b] }

    /// Rebuilds the blocks and read-out from `flat` (count blocks), replaying the features.
    public mutating func restore(_ flat: [Double], blocks count: Int) throws {
        let per = width * dim * 2 + width
        guard flat.count == count * per + dim + 1 else { throw WideNetIOError("the boosting checkpoint holds \(flat.count) values, not \(count) blocks'") }
        blocks = []
        var zz = z
        for k in 0..<count {
            let s = k * per
            let blk = Block(u: Array(flat[s..<(s + width * dim)]), c: Array(flat[(s + width * dim)..<(s + width * dim + width)]),
                            v: Array(flat[(s + width * dim + width)..<(s + per)]))
            zz = Self.apply(blk, to: zz, points: points, dim: dim, width: width)
            blocks.append(blk)
        }
        z = zz
        w = Array(flat[(count * per)..<(count * per + dim)]); b = flat[count * per + dim]
    }
}
