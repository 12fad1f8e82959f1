import Foundation

/// The tile sizes of the NTK kernels. Variant 1 is ntk.cl (one item per sample and mask word
/// forward, one per neuron backward); variant 2 the register-tiled ntk_tiled.cl, whose letters
/// are documented there.
public struct NTKKernelConfig: Hashable, Codable, Sendable, CustomStringConvertible {
    public var variant: Int
    // Variant 2 forward: NT_TM neurons × NT_TN samples a group, NT_RM × NT_RN an item, NT_KC staged.
    public var tm = 64, tn = 32, kc = 16, rm = 4, rn = 4
    // Variant 2 backward: NB_BM neurons × NB_BD coordinates a group, NB_RM × NB_RD an item, NB_BS staged.
    public var bm = 64, bd = 32, bs = 32, brm = 4, brd = 4

    public static let reference = NTKKernelConfig(variant: 1)

    public static func tiled(forward tm: Int, _ tn: Int, _ kc: Int, _ rm: Int, _ rn: Int,
                             backward bm: Int, _ bd: Int, _ bs: Int, _ brm: Int, _ brd: Int) -> NTKKernelConfig {
        NTKKernelConfig(variant: 2, tm: tm, tn: tn, kc: kc, rm: rm, rn: rn, bm: bm, bd: bd, bs: bs, brm: brm, brd: brd)
    }

    public var description: String {
        variant == 1 ? "v1"
            : "v2 fwd TM=\(tm) TN=\(tn) KC=\(kc) RM=\(rm) RN=\(rn) bwd BM=\(bm) BD=\(bd) BS=\(bs) RM=\(brm) RD=\(brd)"
    }

    var forwardItems: Int { (tm / rm) * (tn / rn) }
    var backwardItems: Int { (bm / brm) * (bd / brd) }

    var defines: [String] {
        ["-DNT_TM=\(tm)", "-DNT_TN=\(tn)", "-DNT_KC=\(kc)", "-DNT_RM=\(rm)", "-DNT_RN=\(rn)",
         "-DNB_BM=\(bm)", "-DNB_BD=\(bd)", "-DNB_BS=\(bs)", "-DNB_RM=\(brm)", "-DNB_RD=\(brd)"]
    }

    /// Static local memory of each variant-2 kernel (the __local arrays of ntk_tiled.cl).
    func forwardLocalBytes(_ scalar: Int) -> Int { (kc * tn + kc * tm + tn * (tm / rm)) * scalar + tn * tm }
    func outputGradientLocalBytes(_ scalar: Int) -> Int { (kc * tn + kc * tm + (tn / rn) * tm) * scalar }
    func backwardLocalBytes(_ scalar: Int) -> Int { (bs * bd + bs) * scalar + bs * (bm / 32) * 4 }

    /// Whether the tiles divide as the kernels assume and fit the launch limits.
    public func fits(_ limits: LaunchLimits, scalarBytes: Int) -> Bool {
        if variant == 1 { return true }
        guard tm > 0, tn > 0, kc > 0, rm > 0, rn > 0, bm > 0, bd > 0, bs > 0, brm > 0, brd > 0,
              tm % 32 == 0, tm % rm == 0, tn % rn == 0, bm % 32 == 0, bm % brm == 0, bd % brd == 0 else { return false }
        return forwardItems <= limits.maxWorkGroupSize && backwardItems <= limits.maxWorkGroupSize
            && forwardLocalBytes(scalarBytes) <= limits.localMemBytes
            && outputGradientLocalBytes(scalarBytes) <= limits.localMemBytes
            && backwardLocalBytes(scalarBytes) <= limits.localMemBytes
    }
}

/// Per-device NTK tile sizes, looked up like GEMM's: a tuned entry for this device and driver
/// ($WIDENET_NTK_TUNING_FILE or ~/.cache/widenet/ntk-tuning.json), else a default by vendor.
public enum NTKTuningDatabase {
    public static var cacheFile: URL {
        if let path = ProcessInfo.processInfo.environment["WIDENET_NTK_TUNING_FILE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return GEMMTuningDatabase.cacheFile.deletingLastPathComponent().appendingPathComponent("ntk-tuning.json")
    }

    /// The defaults by vendor, first that fits. NVIDIA: 8×8 register blocks in both passes (64
    /// accumulators an item, 128 items a group: 16 local loads per 64 FMAs), the shape that reaches
    /// most of the FP32 rate in GEMMs there.
    public static func defaults(vendor: String) -> [NTKKernelConfig] {
        let v = vendor.lowercased()
        if v.contains("nvidia") {
            return [.tiled(forward: 128, 64, 16, 8, 8, backward: 128, 64, 32, 8, 8),
                    .tiled(forward: 64, 32, 16, 4, 4, backward: 64, 32, 32, 4, 4)]
        }
        if v.contains("amd") || v.contains("advanced micro") {
            return [.tiled(forward: 64, 64, 16, 4, 4, backward: 64, 64, 32, 4, 4)]
        }
        return [.tiled(forward: 64, 32, 16, 4, 4, backward: 64, 32, 32, 4, 4)]
    }

    public static func cached(file: URL = cacheFile) -> [String: NTKKernelConfig] {
        guard let data = try? Data(contentsOf: file),
              let table = try? JSONDecoder().decode([String: NTKKernelConfig].self, from: data) else { return [:] }
        return table
    }

    public static func store(_ config: NTKKernelConfig, for info: CLDeviceInfo, precision: Precision, file: URL = cacheFile) throws {
        var table = cached(file: file)
        table[GEMMTuningDatabase.key(info, precision)] = config
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(try encoder.encode(table), to: file)
    }

    public static func config(for info: CLDeviceInfo, precision: Precision, file: URL = cacheFile) -> NTKKernelConfig {
        let limits = LaunchLimits(device: info)
        if let tuned = cached(file: file)[GEMMTuningDatabase.key(info, precision)], tuned.fits(limits, scalarBytes: precision.bytes) {
            return tuned
        }
        return defaults(vendor: info.vendor).first { $0.fits(limits, scalarBytes: precision.bytes) } ?? .reference
    }
}
