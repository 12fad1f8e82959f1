/// The width of a model (the NTK net's neurons, the mean-field net's particles) cut into blocks:
/// the seam where blocks go to other devices or processes. The boundaries are fixed by the problem
/// alone, never by one device's limits, so a run's numbers do not depend on where it runs: each
/// block's partial sums are formed alone and the host adds the blocks' partials in block order;
/// each block draws its random numbers from its own Philox offsets (element indices continue
/// across blocks). config.json records the block width, and a resumed run keeps it.
public struct WidthPartition: Hashable, Sendable, CustomStringConvertible {
    public let width: Int
    /// Units per block (a multiple of 32, so a block owns whole mask words); the last block may be narrower.
    public let blockWidth: Int

    /// The largest buffer a block may need by default: 128 MiB, the least CL_DEVICE_MAX_MEM_ALLOC_SIZE
    /// OpenCL allows a device, so the default blocks fit every device.
    public static let defaultBlockBytes = 128 << 20
    /// Units per block at most by default (a block is also the unit of work a process takes).
    public static let defaultMaxBlockWidth = 1 << 20

    public init(width: Int, blockWidth: Int) {
        precondition(width >= 0 && blockWidth >= 32 && blockWidth % 32 == 0, "a block width is a positive multiple of 32")
        self.width = width
        self.blockWidth = blockWidth
    }

    /// The default partition of a problem whose largest per-block buffer takes `bytesPerUnit`
    /// bytes per unit: as wide as fits `defaultBlockBytes` (at most `defaultMaxBlockWidth`), a
    /// multiple of 256 (the CPU backend's chunk) when it is that wide, else of 32.
    public static func forProblem(width: Int, bytesPerUnit: Int) -> WidthPartition {
        let fit = min(defaultMaxBlockWidth, defaultBlockBytes / max(bytesPerUnit, 1))
        let grain = fit >= 256 ? 256 : 32
        return WidthPartition(width: width, blockWidth: max(32, fit / grain * grain))
    }

    /// The requested block width (a hidden --block-width, a resumed run's), else the default.
    public static func forProblem(width: Int, bytesPerUnit: Int, requested: Int?) -> WidthPartition {
        requested.map { WidthPartition(width: width, blockWidth: $0) } ?? forProblem(width: width, bytesPerUnit: bytesPerUnit)
    }

    public var count: Int { (width + blockWidth - 1) / blockWidth }

    /// The units of block b.
    public func range(_ b: Int) -> Range<Int> { (b * blockWidth)..<min(width, (b + 1) * blockWidth) }
    public var ranges: [Range<Int>] { (0..<count).map(range) }

    /// The blocks rank r of k ranks holds: a contiguous run, the runs as even as whole blocks allow.
    public func blocks(rank r: Int, of k: Int) -> Range<Int> {
        precondition(k >= 1 && r >= 0 && r < k, "rank \(r) of \(k)")
        return (count * r / k)..<(count * (r + 1) / k)
    }

    /// The units rank r of k ranks holds (its blocks' units, contiguous).
    public func units(rank r: Int, of k: Int) -> Range<Int> {
        let b = blocks(rank: r, of: k)
        return b.isEmpty ? width..<width : range(b.lowerBound).lowerBound..<range(b.upperBound - 1).upperBound
    }

    /// The Philox element offset of block b's first value when each unit holds `perUnit` values.
    public func elementOffset(_ b: Int, perUnit: Int) -> UInt64 { UInt64(b * blockWidth) * UInt64(perUnit) }

    /// Refuses a block whose largest buffer (`bytesPerUnit` per unit) exceeds the device's largest allocation.
    public func checkFits(_ info: BackendInfo, bytesPerUnit: Int, what: String) throws {
        let need = min(blockWidth, max(width, 1)) * bytesPerUnit
        guard need <= info.maxAllocBytes else {
            throw BackendError.resources("\(what): a block of \(blockWidth) needs a \(need)-byte buffer but \(info.deviceName) "
                + "allocates at most \(info.maxAllocBytes) bytes at once")
        }
    }

    /// Σ_b partials[b][i], added in block order.
    public static func sumInBlockOrder(_ partials: [[Double]], count n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n)
        for part in partials { for i in 0..<n { out[i] += part[i] } }
        return out
    }

    public var description: String { "\(count) block\(count == 1 ? "" : "s") of \(blockWidth)" }
}
