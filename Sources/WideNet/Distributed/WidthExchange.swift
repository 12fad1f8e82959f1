import Foundation

/// What crosses ranks when the width is dealt over processes (WidthPartition.blocks(rank:of:)):
/// a model hands the exchange its own blocks' values and gets every block's back in block order,
/// so that the sums it forms from them are the same bits for any number of ranks. `SingleProcess`
/// is the exchange of a process run alone; `MPIRuntime` that of a job of ranks.
public protocol WidthExchange: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Every rank's `bytes` (the same count on each), concatenated in rank order.
    func allgatherBytes(_ bytes: [UInt8]) throws -> [UInt8]
    /// The element-wise sum of every rank's counts (integers: exact).
    func allreduceSum(_ values: [UInt32]) throws -> [UInt32]
    /// Returns once every rank has called it.
    func barrier() throws
    /// What the collectives have moved so far.
    var traffic: ExchangeTraffic { get }
}

/// Collectives called, bytes they handed back to this rank, and seconds spent in them.
public struct ExchangeTraffic: Sendable, Equatable {
    public var calls = 0, bytes = 0, seconds = 0.0
    public init() {}
    public static func - (a: ExchangeTraffic, b: ExchangeTraffic) -> ExchangeTraffic {
        var d = ExchangeTraffic()
        d.calls = a.calls - b.calls; d.bytes = a.bytes - b.bytes; d.seconds = a.seconds - b.seconds
        return d
    }
    public static func += (a: inout ExchangeTraffic, b: ExchangeTraffic) {
        a.calls += b.calls; a.bytes += b.bytes; a.seconds += b.seconds
    }
}

extension WidthExchange {
    /// Every rank's values (the same count on each), concatenated in rank order.
    public func allgather<V: BitwiseCopyable>(_ values: [V]) throws -> [V] {
        guard size > 1 else { return values }
        let bytes = values.withUnsafeBytes { Array($0) }
        let all = try allgatherBytes(bytes)
        return [V](unsafeUninitializedCapacity: values.count * size) { buffer, n in
            all.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            n = values.count * size
        }
    }

    /// Each block's `per` values, every rank handing its own blocks' in order: the values of all
    /// the partition's blocks in block order. Ranks hold different numbers of blocks, so each sends
    /// as many as the rank with the most, zeros past its own.
    public func blocksInOrder<V: BitwiseCopyable & Numeric>(_ own: [[V]], per: Int, partition: WidthPartition) throws -> [[V]] {
        guard size > 1 else { return own }
        let most = (0..<size).map { partition.blocks(rank: $0, of: size).count }.max() ?? 0
        var flat = [V](repeating: 0, count: most * per)
        for (k, values) in own.enumerated() { for i in 0..<per { flat[k * per + i] = values[i] } }
        let all = try allgather(flat)
        var out: [[V]] = []
        for r in 0..<size {
            for k in 0..<partition.blocks(rank: r, of: size).count {
                let base = (r * most + k) * per
                out.append(Array(all[base..<(base + per)]))
            }
        }
        return out
    }

    /// Every rank's text, in rank order.
    public func allgather(_ text: String) throws -> [String] {
        let bytes = Array(text.utf8)
        let longest = try allgather([bytes.count]).max() ?? 0
        let all = try allgatherBytes(bytes + [UInt8](repeating: 0, count: longest - bytes.count))
        return (0..<size).map { r in String(decoding: all[(r * longest)..<((r + 1) * longest)].prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Rank 0's bytes, on every rank (what the others pass is ignored).
    public func fromLeader(_ bytes: [UInt8]) throws -> [UInt8] {
        guard size > 1 else { return bytes }
        let count = try allgather([rank == 0 ? bytes.count : 0])[0]
        let all = try allgatherBytes(rank == 0 ? bytes : [UInt8](repeating: 0, count: count))
        return Array(all[0..<count])
    }

    /// The largest of every rank's value.
    public func maximum(_ value: Double) throws -> Double { try allgather([value]).max() ?? value }
}

/// The exchange of a process run alone: every block is its own.
public final class SingleProcess: WidthExchange {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allgatherBytes(_ bytes: [UInt8]) throws -> [UInt8] { bytes }
    public func allreduceSum(_ values: [UInt32]) throws -> [UInt32] { values }
    public func barrier() throws {}
    public var traffic: ExchangeTraffic { ExchangeTraffic() }
}
