import Foundation

/// What the saddle experiment reads off a small two-layer net besides its loss (ARCHITECTURE.md
/// §1.3): the singular values of the learned map, Arata's alignment, Amari's singular regions.
enum UnitDiagnostics {
    /// Singular values of the learned map: W2W1 for a linear net, else of the centred fitted
    /// outputs (F − mean F)/√n (`mapDescription` says which).
    static func mapSingularValues(_ net: TwoLayerNet) throws -> [Double] {
        if net.activation == .linear { return try SingularValues.of(try net.endToEnd(), rows: net.k, cols: net.d) }
        return try SingularValues.ofCentred(net.outputs, rows: net.n, cols: net.k)
    }

    /// What `mapSingularValues` is the spectrum of, for summaries and figures.
    static func mapDescription(_ activation: Activation) -> String {
        activation == .linear ? "the end-to-end map W2·W1" : "the centred fitted outputs (F − mean F)/√n"
    }

    /// Arata's alignment (share of ‖W1‖²_F in its top direction) and Amari's singular regions:
    /// units whose contribution ‖W2[:, r]‖·‖W1[r, :]‖ is under 10⁻³ of the largest (dead), and pairs
    /// of live units whose W1 rows have cosine above 0.999 (near-duplicates).
    static func of(_ net: TwoLayerNet) -> (alignment: Double, dead: Int, duplicates: Int) {
        let (m, d, k) = (net.m, net.d, net.k)
        let w1 = net.w1, w2 = net.w2
        let rowNorm = (0..<m).map { r in (0..<d).reduce(0.0) { $0 + w1[r * d + $1] * w1[r * d + $1] }.squareRoot() }
        let outNorm = (0..<m).map { r in (0..<k).reduce(0.0) { $0 + w2[$1 * m + r] * w2[$1 * m + r] }.squareRoot() }
        let contribution = zip(rowNorm, outNorm).map { $0 * $1 }
        let top = contribution.max() ?? 0
        let live = (0..<m).filter { contribution[$0] >= 1e-3 * top }
        var duplicates = 0
        if live.count <= 2000 {
            for (a, r) in live.enumerated() {
                for s in live[(a + 1)...] {
                    var dot = 0.0
                    for q in 0..<d { dot += w1[r * d + q] * w1[s * d + q] }
                    if dot > 0.999 * rowNorm[r] * rowNorm[s] { duplicates += 1 }
                }
            }
        }
        let fro = rowNorm.reduce(0) { $0 + $1 * $1 }
        let s1 = (try? SingularValues.of(w1, rows: m, cols: d).first) ?? 0
        return (fro > 0 ? (s1 * s1) / fro : 0, m - live.count, duplicates)
    }
}
