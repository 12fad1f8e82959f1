import Foundation

/// `widenet resnet --experiment train --task`: two-class planar sets with labels ±1 (accuracy is the
/// sign's), a regression teacher, or files.
public enum ResidualTask: String, CaseIterable, Codable, Sendable {
    /// Two interleaved spirals of 1.5 turns, radius 0.1…1, Gaussian noise of --task-noise (default 0.05).
    case spirals
    /// Two concentric circles of radii 0.5 (label −1) and 1 (+1), noise as above: no homeomorphism of
    /// the plane makes them linearly separable (the inner one stays enclosed), so an ODE flow in 2-D
    /// cannot, nor blocks with h‖V‖‖U‖ < 1 (each then invertible); in 3-D a flow can. Trained
    /// blocks of larger h‖V‖‖U‖ fold the plane and escape the argument (lipschitz_max says which).
    case circles
    /// y = Σ_j a_j tanh(w_jᵀx)/√8 of 8 random units on x ~ N(0, I/d₀), d₀ = --input-dim (default 4), plus noise.
    case teacher
    /// --x (n×d₀) and --y (n), the last --test-size rows of a Philox permutation held out.
    case file
}

/// The points and labels of a train run, and the held-out test set.
public struct ResidualData: Sendable {
    public var x: [Double], y: [Double], n: Int, d: Int
    public var testX: [Double], testY: [Double], testN: Int
    /// Whether every label is ±1 (then accuracies are reported).
    public var classification: Bool
    public var notes: [String] = []

    /// `n` training and `testSize` test points of a synthetic task, each from its own Philox offsets.
    public static func synthetic(_ task: ResidualTask, n: Int, testSize: Int, inputDim: Int, noise: Double, seed: UInt64) throws -> ResidualData {
        let g = PhiloxGenerator(seed: seed), stream = RandomStream.residualTask.rawValue
        func draw(_ count: Int, step: UInt32, _ law: RandomDistribution) -> [Double] {
            g.array(count: count, stream: stream, step: step, distribution: law, scale: 1.0)
        }
        func points(_ count: Int, part: UInt32) -> (x: [Double], y: [Double]) {
            switch task {
            case .spirals, .circles:
                let u = draw(count, step: 2 * part, .uniform), e = draw(2 * count, step: 2 * part + 1, .normal)
                var x = [Double](repeating: 0, count: 2 * count), y = [Double](repeating: 0, count: count)
                for p in 0..<count {
                    let label = p % 2 == 0 ? 1.0 : -1.0
                    let (r, angle): (Double, Double) = task == .spirals
                        ? (0.1 + 0.9 * u[p], 3 * Double.pi * u[p] + (label > 0 ? 0 : Double.pi))
                        : (label > 0 ? 1.0 : 0.5, 2 * Double.pi * u[p])
                    x[2 * p] = r * Foundation.cos(angle) + noise * e[2 * p]
                    x[2 * p + 1] = r * Foundation.sin(angle) + noise * e[2 * p + 1]
                    y[p] = label
                }
                return (x, y)
            case .teacher:
                let d = inputDim, units = 8
                let w = draw(units * d, step: 100, .normal), a = draw(units, step: 101, .normal)
                let x = draw(count * d, step: 2 * part, .normal).map { $0 / Double(d).squareRoot() }
                let e = draw(count, step: 2 * part + 1, .normal)
                var y = [Double](repeating: 0, count: count)
                for p in 0..<count {
                    var s = 0.0
                    for j in 0..<units {
                        var z = 0.0
                        for k in 0..<d { z += w[j * d + k] * x[p * d + k] }
                        s += a[j] * Foundation.tanh(z * Double(d).squareRoot())
                    }
                    y[p] = s / Double(units).squareRoot() + noise * e[p]
                }
                return (x, y)
            case .file:
                preconditionFailure("files are read by ResidualData.files")
            }
        }
        let train = points(n, part: 0), test = points(testSize, part: 1)
        let d = task == .teacher ? inputDim : 2
        return ResidualData(x: train.x, y: train.y, n: n, d: d, testX: test.x, testY: test.y, testN: testSize,
                            classification: task != .teacher)
    }

    /// X (n×d₀) and y (n, or n×1) from .npy files; `testSize` rows of a Philox permutation held out.
    public static func files(x xPath: String, y yPath: String, testSize: Int, seed: UInt64) throws -> ResidualData {
        let xa = try NPY.read(URL(fileURLWithPath: xPath)), ya = try NPY.read(URL(fileURLWithPath: yPath))
        guard xa.shape.count == 2, xa.shape[0] >= 2, xa.shape[1] >= 1 else {
            throw BackendError("\(xPath): X must be a 2-D array (n×d) with at least 2 rows, got shape \(xa.shape)")
        }
        let total = xa.shape[0], d = xa.shape[1]
        guard ya.values.count == total, ya.shape.count == 1 || (ya.shape.count == 2 && ya.shape[1] == 1) else {
            throw BackendError("\(yPath): y must have one value per row of X (\(total)), got shape \(ya.shape)")
        }
        if let bad = xa.values.firstIndex(where: { !$0.isFinite }) { throw BackendError("\(xPath): entry \(bad) is not finite") }
        if let bad = ya.values.firstIndex(where: { !$0.isFinite }) { throw BackendError("\(yPath): entry \(bad) is not finite") }
        guard testSize < total else { throw BackendError("--test-size \(testSize) leaves no training rows of the \(total) in \(xPath)") }
        let keys: [Double] = PhiloxGenerator(seed: seed).array(count: total, stream: RandomStream.residualTask.rawValue, step: 0xF11E,
                                                              distribution: .uniform, scale: 1.0)
        let order = (0..<total).sorted { keys[$0] < keys[$1] }
        let trainRows = Array(order.prefix(total - testSize)), testRows = Array(order.suffix(testSize))
        func rows(_ r: [Int]) -> [Double] { r.flatMap { xa.values[($0 * d)..<(($0 + 1) * d)] } }
        let classification = ya.values.allSatisfy { $0 == 1 || $0 == -1 }
        return ResidualData(x: rows(trainRows), y: trainRows.map { ya.values[$0] }, n: trainRows.count, d: d, testX: rows(testRows),
                            testY: testRows.map { ya.values[$0] }, testN: testRows.count, classification: classification)
    }
}

extension ResidualData {
    /// x.npy, y.npy, x_test.npy and y_test.npy in a run directory, unless they are too large to keep.
    func write(in run: RunDirectory) throws {
        guard (n + testN) * (d + 1) <= RunHarness.keptInputValues else { return }
        try run.writeArray(x, shape: [n, d], to: "x.npy")
        try run.writeArray(y, shape: [n], to: "y.npy")
        try run.writeArray(testX, shape: [testN, d], to: "x_test.npy")
        try run.writeArray(testY, shape: [testN], to: "y_test.npy")
    }
}
