import CBLAS
import Foundation

/// H∞ of n×d inputs (ARCHITECTURE.md §1.1) as row tiles recomputed from X, so that H∞·V needs
/// O(n·d) memory instead of n×n (the matrix-free mode of `widenet gram`), and the same tiles fill the
/// stored matrix, so that the stored and the free product are the same bits.
///
///     H∞ (n×n)               tile I: rows i0 ..< i0 + T, all n columns
///     ┌──────────────┐       G = X_I Xᵀ and C = X̂_I X̂ᵀ (T×n, two GEMMs of depth d)
///     │▓▓▓▓▓▓▓▓▓▓▓▓▓▓│ ← I   H_ij = g_ij (½ − θ_ij / 2π), θ_ij from c_ij
///     │              │       (H·V)[I] = H_I V: one GEMM of the tile with the b vectors
///     └──────────────┘
///
/// Where |c_ij| > ½ the angle is θ = 2·atan2(‖x̂_i − x̂_j‖, ‖x̂_i + x̂_j‖) with the differences summed
/// coordinate by coordinate, as InfiniteWidthKernel computes it, so near-parallel and near-antipodal
/// rows keep full accuracy and the diagonal is exactly ½‖x_i‖²; where |c_ij| ≤ ½ (most pairs)
/// ½ − θ/2π = ¼ + arcsin(c_ij)/2π, well conditioned there, with arcsin as Cephes' rational function
/// (within 1 ulp on [−½, ½]) in a loop without branches that the compiler vectorises.
///
/// Tiles are fixed by the problem (`tileRows` rows each) and each is computed by one thread with
/// single-threaded BLAS, so the result does not depend on the number of threads. A tile is made and
/// applied in blocks of `blockColumns` columns, so that what one thread touches stays in its cache
/// (a whole row tile is 26 MB at n = 50 000, and streaming it from memory five times cost more than
/// computing it); the stored fill and product use the same blocks, so they keep the same bits.
public struct ArcCosineTiles: Sendable {
    public let n: Int, d: Int
    /// X (n×d) and its rows scaled to unit norm.
    let x: [Double], unit: [Double]
    /// ‖x_i‖, and Σ_i ‖x_i‖², the trace of X Xᵀ: the scale of the rounding bounds.
    public let norms: [Double], trace: Double
    public static let tileRows = 64, blockColumns = 1024
    let workers: Int

    public init(x: [Double], n: Int, d: Int, workers: Int? = nil) {
        precondition(x.count == n * d)
        self.n = n; self.d = d; self.x = x
        var u = x, t = 0.0, r = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var s = 0.0
            for k in 0..<d { s += x[i * d + k] * x[i * d + k] }
            t += s
            r[i] = s.squareRoot()
            guard r[i] > 0 else { continue }
            for k in 0..<d { u[i * d + k] = x[i * d + k] / r[i] }
        }
        unit = u; norms = r; trace = t
        self.workers = max(1, workers ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// From unit rows and norms as a device holds them (the CPU reference of arccos_product):
    /// X = r_i·û_i, the unit rows kept as given.
    public init(unit: [Double], norms: [Double], n: Int, d: Int, workers: Int? = nil) {
        precondition(unit.count == n * d && norms.count == n)
        self.n = n; self.d = d; self.unit = unit; self.norms = norms
        x = (0..<(n * d)).map { unit[$0] * norms[$0 / max(d, 1)] }
        trace = norms.reduce(0) { $0 + $1 * $1 }
        self.workers = max(1, workers ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    public var tiles: Int { (n + Self.tileRows - 1) / Self.tileRows }
    func rows(ofTile t: Int) -> Range<Int> { (t * Self.tileRows)..<min(n, (t + 1) * Self.tileRows) }

    /// Bytes of scratch the tiles need beyond X: two T×n tiles per thread.
    public static func scratchBytes(n: Int, workers: Int) -> Double { Double(workers) * 2 * Double(tileRows) * Double(n) * 8 }

    /// A bound on ‖H_computed − H∞‖₂ from rounding the entries in double precision.
    /// g_ij = fl(x_iᵀx_j) is within γ_d‖x_i‖‖x_j‖; the unit rows are within (d/2 + 2)u per coordinate, so the
    /// computed angle is within (2d + 12)u and ½ − θ/2π within (d/π + 3)u; with the final products,
    /// |ΔH_ij| ≤ (d + 6)·u·‖x_i‖‖x_j‖ to first order. That matrix is non-negative and of rank one, so
    /// ‖ΔH‖₂ ≤ (d + 6)·u·Σ‖x_i‖² (Weyl: every eigenvalue moves by at most this).
    public var storageBound: Double { Double(d + 6) * Double.ulpOfOne / 2 * trace }

    /// The same bound for entries a device recomputes (gram.cl's arccos_product): its asin and atan2
    /// are within 4 and 6 ulp (OpenCL's f64 limits) against Cephes' 1, and g = r_i r_j c rounds twice more,
    /// which (d + 12)·u·Σ‖x_i‖² covers.
    public var deviceStorageBound: Double { Double(d + 12) * Double.ulpOfOne / 2 * trace }

    /// A bound on the rounding of one computed product H·v against the exact product of the computed H,
    /// for ‖v‖ = 1: |fl(Hv) − Hv| ≤ γ_n|H||v| entrywise and |H_ij| ≤ ½‖x_i‖‖x_j‖, so the error is at most
    /// γ_n·½Σ‖x_i‖² in norm.
    public var productBound: Double { Self.gamma(n) * trace / 2 }

    /// γ_k = k·u / (1 − k·u), u = 2⁻⁵³.
    public static func gamma(_ k: Int) -> Double {
        let ku = Double(k) * Double.ulpOfOne / 2
        return ku / (1 - ku)
    }

    /// The column blocks of a tile, in the order every fill and product takes them.
    var columnBlocks: [Range<Int>] { Self.columnBlocks(n: n) }
    static func columnBlocks(n: Int) -> [Range<Int>] {
        Swift.stride(from: 0, to: n, by: blockColumns).map { $0..<min(n, $0 + blockColumns) }
    }

    /// Writes the rows `rows` of H∞ (rows.count × n, row stride `stride`) to `out`, block by block;
    /// `scratch` holds rows.count × blockColumns values. Single-threaded.
    func fill(rows: Range<Int>, into out: UnsafeMutablePointer<Double>, stride: Int, scratch c: UnsafeMutablePointer<Double>) {
        for columns in columnBlocks { fill(rows: rows, columns: columns, into: out + columns.lowerBound, stride: stride, scratch: c) }
    }

    /// Writes the block (rows, columns) of H∞ to `out` (row stride `stride`); `scratch` holds
    /// rows.count × columns.count values. Single-threaded.
    func fill(rows: Range<Int>, columns: Range<Int>, into out: UnsafeMutablePointer<Double>, stride: Int, scratch c: UnsafeMutablePointer<Double>) {
        let t = rows.count, w = columns.count, d = self.d
        guard t > 0, w > 0 else { return }
        x.withUnsafeBufferPointer { xp in
            unit.withUnsafeBufferPointer { up in
                let X = xp.baseAddress!, U = up.baseAddress!
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(w), Int32(d), 1, X + rows.lowerBound * d, Int32(d),
                            X + columns.lowerBound * d, Int32(d), 0, out, Int32(stride))
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(w), Int32(d), 1, U + rows.lowerBound * d, Int32(d),
                            U + columns.lowerBound * d, Int32(d), 0, c, Int32(w))
                let twoPi = 2 * Double.pi, inverseTwoPi = 1 / (2 * Double.pi)
                for r in 0..<t {
                    let i = rows.lowerBound + r
                    let ui = U + i * d, o = out + r * stride, cr = c + r * w
                    // Where |c| ≤ ½ (most pairs): ½ − θ/2π = ¼ + arcsin(c)/2π, arcsin by Cephes' rational
                    // form (within 1 ulp there), branch-free so that the loop vectorises.
                    for j in 0..<w {
                        let cij = cr[j], z = cij * cij
                        var p = 4.253011369004428248960e-3
                        p = p * z - 6.019598008014123785661e-1; p = p * z + 5.444622390564711410273e0
                        p = p * z - 1.626247967210700244449e1; p = p * z + 1.956261983317594739197e1
                        p = p * z - 8.198089802484824371615e0
                        var q = z - 1.474091372988853791896e1
                        q = q * z + 7.049610280856842141659e1; q = q * z - 1.471791292232726029859e2
                        q = q * z + 1.395105614657485689735e2; q = q * z - 4.918853881490881290097e1
                        let asin = cij + cij * z * (p / q)
                        let g = o[j]
                        o[j] = cij.magnitude <= 0.5 ? g * (0.25 + asin * inverseTwoPi) : g
                    }
                    // The rest: the atan2 form on the differences, exact for near-parallel rows and 0 on the diagonal.
                    for j in 0..<w where cr[j].magnitude > 0.5 {
                        var minus = 0.0, plus = 0.0
                        let uj = U + (columns.lowerBound + j) * d
                        for k in 0..<d {
                            let a = ui[k], b = uj[k]
                            minus += (a - b) * (a - b); plus += (a + b) * (a + b)
                        }
                        let theta = 2 * Foundation.atan2(minus.squareRoot(), plus.squareRoot())
                        o[j] = o[j] * (0.5 - theta / twoPi)
                    }
                }
            }
        }
    }

    /// Runs `body(tile, scratch)` for every tile, the tiles split into contiguous runs over the threads,
    /// with OpenBLAS single-threaded. `scratch` and the block buffer hold tileRows × blockColumns values
    /// each, per thread.
    func forEachTile(_ body: @escaping @Sendable (Int, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void) {
        let count = tiles, parts = min(workers, count), size = Self.tileRows * min(n, Self.blockColumns)
        guard count > 0 else { return }
        BLAS.singleThreaded {
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                // Allocated once per thread, not once per block.
                let scratch = UnsafeMutablePointer<Double>.allocate(capacity: size)
                let tileBuffer = UnsafeMutablePointer<Double>.allocate(capacity: size)
                defer { scratch.deallocate(); tileBuffer.deallocate() }
                for tile in (count * p / parts)..<(count * (p + 1) / parts) { body(tile, scratch, tileBuffer) }
            }
        }
    }

    /// The stored H∞ (n×n, row-major), filled tile by tile.
    public func matrix() -> [Double] {
        var h = [Double](repeating: 0, count: n * n)
        fill(&h)
        return h
    }

    /// Writes H∞ into `h` (n×n values, row-major), tile by tile.
    public func fill(_ h: inout [Double]) {
        precondition(h.count == n * n)
        h.withUnsafeMutableBufferPointer { hp in
            let base = TileOutput(hp.baseAddress!), n = self.n
            forEachTile { tile, scratch, _ in
                let rows = self.rows(ofTile: tile)
                self.fill(rows: rows, into: base.pointer + rows.lowerBound * n, stride: n, scratch: scratch)
            }
        }
    }

    /// Y = H∞·V for b vectors (V and Y b×n, one vector a row), each tile of H∞ recomputed.
    public func product(_ v: [Double], vectors b: Int) -> [Double] {
        precondition(v.count == b * n)
        var y = [Double](repeating: 0, count: b * n)
        let n = self.n
        v.withUnsafeBufferPointer { vp in
            y.withUnsafeMutableBufferPointer { yp in
                let (V, Y) = (TileOutput(UnsafeMutablePointer(mutating: vp.baseAddress!)), TileOutput(yp.baseAddress!))
                let blocks = self.columnBlocks
                forEachTile { tile, scratch, k in
                    let rows = self.rows(ofTile: tile)
                    for (index, columns) in blocks.enumerated() {
                        self.fill(rows: rows, columns: columns, into: k, stride: columns.count, scratch: scratch)
                        Self.blockProduct(k, stride: columns.count, rows: rows, columns: columns, n: n, v: V.pointer, vectors: b,
                                          accumulate: index > 0, into: Y.pointer)
                    }
                }
            }
        }
        return y
    }

    /// Y[:, rows] (+)= V[:, columns] · Kᵀ for a block K of rows.count × columns.count values (row stride
    /// `stride`): one GEMM whose shape depends on the block alone, added to what the earlier blocks gave.
    static func blockProduct(_ k: UnsafePointer<Double>, stride: Int, rows: Range<Int>, columns: Range<Int>, n: Int, v: UnsafePointer<Double>,
                             vectors b: Int, accumulate: Bool, into y: UnsafeMutablePointer<Double>) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(b), Int32(rows.count), Int32(columns.count), 1, v + columns.lowerBound, Int32(n),
                    k, Int32(stride), accumulate ? 1 : 0, y + rows.lowerBound, Int32(n))
    }

    /// Y[:, rows] = V · K_rowsᵀ for a tile K of rows.count × n values: one GEMM whose shape depends
    /// on the tile alone (the empirical H(0)'s mask tiles).
    static func tileProduct(_ k: UnsafePointer<Double>, rows: Range<Int>, n: Int, v: UnsafePointer<Double>, vectors b: Int,
                            into y: UnsafeMutablePointer<Double>) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(b), Int32(rows.count), Int32(n), 1, v, Int32(n),
                    k, Int32(n), 0, y + rows.lowerBound, Int32(n))
    }

    /// Y = H·V with the stored n×n matrix `h`, by the same tiles and GEMMs as `product`, so the two
    /// agree bit for bit when h came from `matrix()`.
    public static func storedProduct(_ h: UnsafePointer<Double>, n: Int, _ v: [Double], vectors b: Int, workers: Int? = nil) -> [Double] {
        precondition(v.count == b * n)
        var y = [Double](repeating: 0, count: b * n)
        let count = (n + tileRows - 1) / tileRows
        let blocks = columnBlocks(n: n)
        let parts = min(max(1, workers ?? ProcessInfo.processInfo.activeProcessorCount), max(count, 1))
        v.withUnsafeBufferPointer { vp in
            y.withUnsafeMutableBufferPointer { yp in
                let (H, V, Y) = (TileOutput(UnsafeMutablePointer(mutating: h)), TileOutput(UnsafeMutablePointer(mutating: vp.baseAddress!)),
                                 TileOutput(yp.baseAddress!))
                BLAS.singleThreaded {
                    DispatchQueue.concurrentPerform(iterations: parts) { p in
                        for tile in (count * p / parts)..<(count * (p + 1) / parts) {
                            let rows = (tile * tileRows)..<min(n, (tile + 1) * tileRows)
                            for (index, columns) in blocks.enumerated() {
                                blockProduct(H.pointer + rows.lowerBound * n + columns.lowerBound, stride: n, rows: rows, columns: columns, n: n,
                                             v: V.pointer, vectors: b, accumulate: index > 0, into: Y.pointer)
                            }
                        }
                    }
                }
            }
        }
        return y
    }
}

/// A raw pointer that worker threads write disjoint parts of.
struct TileOutput: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    init(_ p: UnsafeMutablePointer<Double>) { pointer = p }
}
