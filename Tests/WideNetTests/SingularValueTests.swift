import Foundation
import Testing
@testable import WideNet

/// Singular values against planted spectra (fresh random frames each run): 13 decades from a
/// backward-stable SVD, and the centred spectrum of a nonlinear net's outputs.
struct SingularValueTests {
    /// Orthonormal columns (rows×count) from Gaussians.
    static func frame(_ rows: Int, _ count: Int, _ rng: inout TestRNG) -> [Double] {
        SingularValues.orthonormalColumns(rng.normals(rows * count), rows: rows, count: count)
    }

    /// A = U diag(s) Vᵀ with s = 1, 0.1, …, 1e-12 comes back to 1e-3 relative at every value.
    @Test func plantedSpectrumOverThirteenDecades() throws {
        var rng = TestRNG()
        let (rows, cols, r) = (13, 17, 13)
        let s = (0..<r).map { Foundation.pow(10, -Double($0)) }
        let u = Self.frame(rows, r, &rng), v = Self.frame(cols, r, &rng)
        var a = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows { for j in 0..<cols { for q in 0..<r { a[i * cols + j] += u[i * r + q] * s[q] * v[j * r + q] } } }
        for transposed in [false, true] {
            let got = transposed
                ? try SingularValues.of((0..<(rows * cols)).map { a[($0 % rows) * cols + $0 / rows] }, rows: cols, cols: rows)
                : try SingularValues.of(a, rows: rows, cols: cols)
            try #require(got.count == r)
            for (want, have) in zip(s, got) {
                #expect(abs(have - want) <= 1e-3 * want, "seed \(rng.seed), transposed \(transposed): \(have) for \(want)")
            }
        }
    }

    /// F = 1μᵀ + √n·U diag(s) Vᵀ with U ⟂ 1: the centred spectrum is s, whatever the offset μ.
    @Test func centredOutputsIgnoreTheMean() throws {
        var rng = TestRNG()
        let (n, k) = (40, 4)
        let s = [3.0, 1.0, 0.2, 1e-6]
        // Columns orthogonal to the all-ones vector: Gram–Schmidt with it first.
        var raw: [Double] = []
        for _ in 0..<n { raw.append(1); raw += rng.normals(k) as [Double] }
        let q = SingularValues.orthonormalColumns(raw, rows: n, count: k + 1)
        let v = Self.frame(k, k, &rng)
        let mu: [Double] = (rng.normals(k) as [Double]).map { 5 * $0 }
        var f = [Double](repeating: 0, count: n * k)
        for i in 0..<n {
            for j in 0..<k {
                f[i * k + j] = mu[j]
                for p in 0..<k { f[i * k + j] += Double(n).squareRoot() * q[i * (k + 1) + p + 1] * s[p] * v[j * k + p] }
            }
        }
        let got = try SingularValues.ofCentred(f, rows: n, cols: k)
        for (want, have) in zip(s, got) { #expect(abs(have - want) <= 1e-9 * s[0], "seed \(rng.seed): \(have) for \(want)") }
        let uncentred = try SingularValues.of(f, rows: n, cols: k).map { $0 / Double(n).squareRoot() }
        #expect(abs(uncentred[0] - s[0]) > 1e-3, "the offset must show in the uncentred spectrum (seed \(rng.seed))")
    }
}
