import Foundation

/// Where SGD's batches come from (ARCHITECTURE.md §1.1, averaged SGD): fresh samples of the harmonic
/// target for each step (--stream: update k sees the inputs of the data stream and the noise of the
/// label stream at Philox step k + 1, so samples seen grow with the steps and a resumed run draws
/// the same ones), or epochs over a data set, each epoch a Philox permutation of its rows.
/// Both are functions of the update index alone.
struct SGDSamples {
    enum Source {
        case stream(HarmonicTarget, noise: Double)
        case epochs(x: [Double], y: [Double], n: Int)
    }
    let source: Source
    let d: Int, batch: Int, seed: UInt64
    private var permutation: (epoch: Int, order: [Int])? = nil

    init(_ source: Source, d: Int, batch: Int, seed: UInt64) {
        self.source = source; self.d = d; self.batch = batch; self.seed = seed
    }

    /// The inputs (batch×d, unit rows) and labels of update k.
    mutating func batch(_ k: Int) -> (x: [Double], y: [Double]) {
        switch source {
        case .stream(let target, let noise):
            let step = UInt32(k + 1)
            let raw: [Double] = PhiloxGenerator(seed: seed).array(count: batch * d, stream: RandomStream.data.rawValue, step: step,
                                                                   distribution: .normal, scale: 1.0)
            let x = SyntheticData.unitRows(raw, n: batch, d: d)
            return (x, target.labels(x, n: batch, noise: noise, seed: seed, step: step))
        case .epochs(let xs, let ys, let n):
            var x: [Double] = [], y: [Double] = []
            x.reserveCapacity(batch * d)
            for position in (k * batch)..<((k + 1) * batch) {
                let (epoch, slot) = position.quotientAndRemainder(dividingBy: n)
                let i = order(epoch: epoch, n: n)[slot]
                x += xs[(i * d)..<((i + 1) * d)]
                y.append(ys[i])
            }
            return (x, y)
        }
    }

    /// Epoch e's order of the rows: the rows sorted by the Philox uniforms of the shuffle stream at step e.
    private mutating func order(epoch: Int, n: Int) -> [Int] {
        if let p = permutation, p.epoch == epoch { return p.order }
        let keys: [Double] = PhiloxGenerator(seed: seed).array(count: n, stream: RandomStream.shuffle.rawValue, step: UInt32(truncatingIfNeeded: epoch),
                                                                distribution: .uniform, scale: 1.0)
        let order = (0..<n).sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
        permutation = (epoch, order)
        return order
    }

    /// The test set of a harmonic target: `count` inputs of the test-data stream and their noise-free values f*(x).
    static func testSet(_ target: HarmonicTarget, count: Int, seed: UInt64) -> (x: [Double], y: [Double]) {
        let raw: [Double] = PhiloxGenerator(seed: seed).array(count: count * target.d, stream: RandomStream.testData.rawValue, step: 0,
                                                               distribution: .normal, scale: 1.0)
        let x = SyntheticData.unitRows(raw, n: count, d: target.d)
        return (x, target.values(x, n: count))
    }
}
