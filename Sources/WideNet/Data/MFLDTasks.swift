import Foundation

/// `--task teacher|parity|file` of `widenet mfld`.
public enum MFLDTaskKind: String, Sendable, CaseIterable, Codable { case teacher, parity, file }

/// `--loss squared|logistic`.
public enum MFLDLoss: String, Sendable, CaseIterable, Codable {
    case squared, logistic

    /// ℓ(f, y).
    public func value(_ f: Double, _ y: Double) -> Double {
        switch self {
        case .squared: return 0.5 * (f - y) * (f - y)
        case .logistic:
            let t = -y * f   // log(1 + e^t), stable for large |t|
            return t > 0 ? t + Foundation.log1p(Foundation.exp(-t)) : Foundation.log1p(Foundation.exp(t))
        }
    }

    /// ∂ℓ/∂f.
    public func derivative(_ f: Double, _ y: Double) -> Double {
        switch self {
        case .squared: return f - y
        case .logistic: return -y / (1 + Foundation.exp(y * f))
        }
    }
}

/// Train and test data of a mean-field run: rows of X (n×d) and labels y.
public struct MFLDData: Sendable {
    public var x: [Double], y: [Double], n: Int
    public var xTest: [Double], yTest: [Double], nTest: Int
    public var d: Int
    /// Labels are ±1, so accuracy is reported.
    public var classification: Bool

    /// k-sparse parity on {±1}^d: y = Π_{l<k} x_l (the first k coordinates carry the signal).
    public static func parity(n: Int, nTest: Int, d: Int, k: Int, seed: UInt64) -> MFLDData {
        func draw(_ count: Int, _ stream: RandomStream) -> ([Double], [Double]) {
            let signs: [Double] = PhiloxGenerator(seed: seed).array(count: count * d, stream: stream.rawValue, step: 0,
                                                                    distribution: .rademacher, scale: 1.0)
            let y = (0..<count).map { j in (0..<k).reduce(1.0) { $0 * signs[j * d + $1] } }
            return (signs, y)
        }
        let (x, y) = draw(n, .data), (xt, yt) = draw(nTest, .testData)
        return MFLDData(x: x, y: y, n: n, xTest: xt, yTest: yt, nTest: nTest, d: d, classification: true)
    }

    /// Gaussian inputs x ~ N(0, I_d) and a teacher f*(x) = (1/k) Σ_r a*_r tanh(w*_rᵀx/√d), a*_r = ±1.
    public static func teacher(n: Int, nTest: Int, d: Int, width k: Int, seed: UInt64) -> MFLDData {
        let g = PhiloxGenerator(seed: seed)
        let w: [Double] = g.array(count: k * d, stream: RandomStream.teacher.rawValue, step: 0, distribution: .normal, scale: 1.0)
        let a: [Double] = g.array(count: k, offset: UInt64(k * d), stream: RandomStream.teacher.rawValue, step: 0,
                                  distribution: .rademacher, scale: 1.0)
        let s = 1 / Double(d).squareRoot()
        func draw(_ count: Int, _ stream: RandomStream) -> ([Double], [Double]) {
            let x: [Double] = g.array(count: count * d, stream: stream.rawValue, step: 0, distribution: .normal, scale: 1.0)
            let y = (0..<count).map { j in
                (0..<k).reduce(0.0) { acc, r in
                    acc + a[r] * Foundation.tanh(s * (0..<d).reduce(0.0) { $0 + w[r * d + $1] * x[j * d + $1] })
                } / Double(k)
            }
            return (x, y)
        }
        let (x, y) = draw(n, .data), (xt, yt) = draw(nTest, .testData)
        return MFLDData(x: x, y: y, n: n, xTest: xt, yTest: yt, nTest: nTest, d: d, classification: false)
    }

    /// Arrays from files; the last `nTest` rows are held out for testing.
    public static func files(x xp: String, y yp: String, testFraction: Double) throws -> MFLDData {
        let xa = try NPY.read(URL(fileURLWithPath: xp)), ya = try NPY.read(URL(fileURLWithPath: yp))
        guard xa.shape.count == 2, xa.shape[0] >= 2, xa.shape[1] >= 1 else {
            throw BackendError("\(xp): X must be 2-D (n×d) with at least 2 rows, got shape \(xa.shape)")
        }
        let (total, d) = (xa.shape[0], xa.shape[1])
        guard ya.shape == [total] || ya.shape == [total, 1] else {
            throw BackendError("\(yp): y must have shape (\(total),) to match X, got \(ya.shape)")
        }
        if let i = xa.values.firstIndex(where: { !$0.isFinite }) { throw BackendError("\(xp): non-finite value at row \(i / d)") }
        if let i = ya.values.firstIndex(where: { !$0.isFinite }) { throw BackendError("\(yp): non-finite value at index \(i)") }
        let nTest = max(1, min(total - 1, Int((Double(total) * testFraction).rounded())))
        let n = total - nTest
        let classification = ya.values.allSatisfy { $0 == 1 || $0 == -1 }
        return MFLDData(x: Array(xa.values[0..<(n * d)]), y: Array(ya.values[0..<n]), n: n,
                        xTest: Array(xa.values[(n * d)...]), yTest: Array(ya.values[n...]), nTest: nTest, d: d,
                        classification: classification)
    }
}
