import Foundation
import Testing
@testable import WideNet

/// K ranks as threads of one process, meeting at each collective: the exchange a job of K
/// processes would give, without MPI.
final class ThreadGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var slots: [[UInt8]?], arrived = 0, generation = 0, result: [UInt8] = []

    init(size: Int) { self.size = size; slots = Array(repeating: nil, count: size) }

    /// Every rank's bytes in rank order, once all have arrived.
    func gather(_ rank: Int, _ bytes: [UInt8]) -> [UInt8] {
        condition.lock(); defer { condition.unlock() }
        let round = generation
        slots[rank] = bytes
        arrived += 1
        if arrived == size {
            result = slots.flatMap { $0! }
            slots = Array(repeating: nil, count: size); arrived = 0; generation += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        return result
    }

    final class Member: WidthExchange {
        let group: ThreadGroup, rank: Int
        init(_ group: ThreadGroup, _ rank: Int) { self.group = group; self.rank = rank }
        var size: Int { group.size }
        func allgatherBytes(_ bytes: [UInt8]) throws -> [UInt8] { group.gather(rank, bytes) }
        func allreduceSum(_ values: [UInt32]) throws -> [UInt32] {
            let all: [UInt32] = try allgather(values)
            return (0..<values.count).map { i in (0..<size).reduce(UInt32(0)) { $0 + all[$1 * values.count + i] } }
        }
        func barrier() throws { _ = group.gather(rank, []) }
        var traffic: ExchangeTraffic { ExchangeTraffic() }
    }

    /// body(rank's exchange) on `size` threads of their own (a barrier needs every rank running).
    func run<R>(_ body: @escaping @Sendable (Member) throws -> R) -> [Result<R, Error>] {
        let done = DispatchGroup()
        let results = Box<R>(size)
        for r in 0..<size {
            done.enter()
            Thread {
                results.set(r, Result { try body(Member(self, r)) })
                done.leave()
            }.start()
        }
        done.wait()
        return results.values.map { $0! }
    }

    final class Box<R>: @unchecked Sendable {
        private let lock = NSLock()
        var values: [Result<R, Error>?]
        init(_ n: Int) { values = Array(repeating: nil, count: n) }
        func set(_ i: Int, _ v: Result<R, Error>) { lock.lock(); values[i] = v; lock.unlock() }
    }
}

@Suite struct WidthExchangeTests {
    @Test func blocksAreDealtInContiguousEvenRuns() {
        let p = WidthPartition(width: 1000, blockWidth: 64)   // 16 blocks, the last of 40
        for k in 1...7 {
            let runs = (0..<k).map { p.blocks(rank: $0, of: k) }
            #expect(runs.flatMap { Array($0) } == Array(0..<p.count), "k = \(k)")
            #expect((runs.map(\.count).max() ?? 0) - (runs.map(\.count).min() ?? 0) <= 1, "k = \(k)")
        }
        #expect(WidthPartition(width: 64, blockWidth: 64).blocks(rank: 1, of: 3).isEmpty, "more ranks than blocks: some hold none")
    }

    /// The memory preflight of a rank counts its own neurons: a width that fits split in two passes
    /// where the whole would not.
    @Test func preflightCountsTheRanksShare() throws {
        let info = BackendInfo(kind: "cpu", deviceName: "test", deviceIndex: nil, driver: "", globalMemBytes: 1 << 30,
                               maxAllocBytes: 1 << 30, supportsF64: true, isGPU: false)
        let perNeuron = NTKTwoLayerNet<Float>.bytesPerNeuron(n: 256, d: 64, storesInitialWeights: false)
        let width = Int(0.7 * Double(1 << 30) / perNeuron * 1.5)
        #expect(throws: BackendError.self) {
            try NTKTwoLayerNet<Float>.preflight(width: width, n: 256, d: 64, storesInitialWeights: false, on: info)
        }
        try NTKTwoLayerNet<Float>.preflight(width: width, share: width / 2, n: 256, d: 64, storesInitialWeights: false, on: info)
        do {
            try NTKTwoLayerNet<Float>.preflight(width: 2 * width, share: width, n: 256, d: 64, storesInitialWeights: false, on: info)
            Issue.record("a rank's share beyond its device passed")
        } catch let error as BackendError {
            #expect(error.description.contains("this rank's \(width) neurons of width \(2 * width)"), "\(error)")
        }
    }

    struct Outcome: Equatable { var u: [UInt64], w: [UInt64], a: [UInt64], gram: [UInt64], move: UInt64, flips: UInt64 }

    static func train<T: Scalar>(_: T.Type, exchange: any WidthExchange) throws -> Outcome {
        let (n, d, m) = (9, 5, 1000)
        let data = SyntheticData.sphere(n: n, d: d, seed: 3)
        let net = try NTKTwoLayerNet<T>(backend: CPUBackend(workers: 1), x: data.x.map { T($0) }, n: n, d: d, width: m,
                                        initialisation: .random(seed: 11, kappa: 1), trainOutput: true, blockWidth: 64,
                                        exchange: exchange)
        var u = try net.forward()
        try net.recordInitialMasks()
        for _ in 0..<4 {
            try net.update(residual: zip(u, data.y).map { $0 - $1 }, learningRate: 0.5)
            u = try net.forward()
        }
        let (w, a) = try net.weights()
        let dg = try net.diagnostics()
        let gram = try net.empiricalGram(inputGram: SyntheticData.inputGram(data.x, n: n, d: d))
        return Outcome(u: u.map(\.bitPattern), w: w.map { Double($0).bitPattern }, a: a.map { Double($0).bitPattern },
                       gram: gram.map(\.bitPattern), move: dg.maxMove.bitPattern, flips: dg.flipFraction.bitPattern)
    }

    /// Four GD steps of the net dealt over 2, 3 and 5 ranks (16 blocks: 8, 5-6, 3-4 each) give every
    /// rank the single process's outputs, weights, diagnostics and Gram matrix, bit for bit.
    @Test(arguments: [Precision.f32, .f64], [2, 3, 5])
    func dealtNetIsTheSingleProcessBits(precision: Precision, ranks: Int) throws {
        let alone = precision == .f32 ? try Self.train(Float.self, exchange: SingleProcess())
                                      : try Self.train(Double.self, exchange: SingleProcess())
        #expect(alone.u.count == 9 && alone.w.count == 5000)
        let results = ThreadGroup(size: ranks).run { member in
            precision == .f32 ? try Self.train(Float.self, exchange: member) : try Self.train(Double.self, exchange: member)
        }
        for (r, result) in results.enumerated() {
            let got = try result.get()
            #expect(got == alone, "rank \(r) of \(ranks), \(precision)")
        }
    }
}
