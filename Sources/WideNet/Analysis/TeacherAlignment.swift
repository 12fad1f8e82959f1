/// A feature-learning measure for runs on a teacher's labels: the share of the hidden weights'
/// energy that lies in the span of the teacher's units, Σ_r ‖P w_r‖² / Σ_r ‖w_r‖². Isotropic weights
/// give dim(span)/d; a net whose neurons turn toward the teacher's features approaches 1; a lazy
/// (NTK) net, whose neurons barely move, stays where it started.
public enum TeacherAlignment {
    /// An orthonormal basis of the span of the k rows of `w` (k×d), by Gram–Schmidt twice over.
    public static func basis(_ w: [Double], d: Int) -> [[Double]] {
        var basis: [[Double]] = []
        for row in stride(from: 0, to: w.count, by: d) {
            var v = Array(w[row..<(row + d)])
            let norm0 = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for _ in 0..<2 {
                for q in basis {
                    let c = zip(q, v).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in 0..<d { v[i] -= c * q[i] }
                }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 1e-10 * max(norm0, 1e-300) else { continue }   // in the span already
            basis.append(v.map { $0 / norm })
        }
        return basis
    }

    /// (Σ_r ‖P w_r‖², Σ_r ‖w_r‖²) over the rows of `weights` (count×d).
    public static func energy<T: BinaryFloatingPoint>(_ weights: [T], d: Int, basis: [[Double]]) -> (inside: Double, total: Double) {
        var inside = 0.0, total = 0.0
        for row in stride(from: 0, to: weights.count, by: d) {
            for i in 0..<d { let x = Double(weights[row + i]); total += x * x }
            for q in basis {
                var c = 0.0
                for i in 0..<d { c += q[i] * Double(weights[row + i]) }
                inside += c * c
            }
        }
        return (inside, total)
    }
}
