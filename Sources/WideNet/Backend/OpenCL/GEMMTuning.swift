import Foundation

/// The tile sizes of gemm.cl, documented there. Variant 1 is the simple reference kernel; variant
/// 2 the register-blocked, double-buffered one.
public struct GEMMKernelConfig: Hashable, Codable, Sendable, CustomStringConvertible {
    public var variant: Int
    public var ts = 16
    public var mwg = 64, nwg = 64, kwg = 16, wptm = 4, wptn = 4

    public static let reference = GEMMKernelConfig(variant: 1)

    public static func tiled(_ mwg: Int, _ nwg: Int, _ kwg: Int, _ wptm: Int, _ wptn: Int) -> GEMMKernelConfig {
        GEMMKernelConfig(variant: 2, mwg: mwg, nwg: nwg, kwg: kwg, wptm: wptm, wptn: wptn)
    }

    public var description: String {
        variant == 1 ? "v1 TS=\(ts)" : "v2 MWG=\(mwg) NWG=\(nwg) KWG=\(kwg) WPTM=\(wptm) WPTN=\(wptn)"
    }

    var kernelName: String { variant == 1 ? "gemm" : "gemm_tiled" }
    var defines: [String] {
        variant == 1 ? ["-DTS=\(ts)"]
            : ["-DMWG=\(mwg)", "-DNWG=\(nwg)", "-DKWG=\(kwg)", "-DWPTM=\(wptm)", "-DWPTN=\(wptn)"]
    }
    /// Work-group shape (N direction first) and the C tile one group covers.
    var local: [Int] { variant == 1 ? [ts, ts] : [nwg / wptn, mwg / wptm] }
    func global(m: Int, n: Int) -> [Int] {
        variant == 1 ? [n, m] : [(n + nwg - 1) / nwg * (nwg / wptn), (m + mwg - 1) / mwg * (mwg / wptm)]
    }

    /// The static local memory of the kernel (As and Bs in gemm.cl).
    func localBytes(_ scalarBytes: Int) -> Int {
        variant == 1 ? 2 * ts * (ts + 1) * scalarBytes : 2 * kwg * (mwg + 1 + nwg + 1) * scalarBytes
    }

    /// Whether the device can run it: divisibility, work-group size and local memory.
    func fits(_ info: CLDeviceInfo, scalarBytes: Int) -> Bool { fits(LaunchLimits(device: info), scalarBytes: scalarBytes) }

    public func fits(_ limits: LaunchLimits, scalarBytes: Int) -> Bool {
        if variant == 1 { return ts * ts <= limits.maxWorkGroupSize && localBytes(scalarBytes) <= limits.localMemBytes }
        guard mwg % wptm == 0, nwg % wptn == 0, mwg > 0, nwg > 0, kwg > 0 else { return false }
        let items = (mwg / wptm) * (nwg / wptn)
        return items <= limits.maxWorkGroupSize && localBytes(scalarBytes) <= limits.localMemBytes
    }
}

/// Per-device GEMM tile sizes: a tuned value cached for this device and driver, else a default
/// by vendor (CLBlast's fallback order: device, then vendor, then a generic default).
public enum GEMMTuningDatabase {
    /// ~/.cache/widenet/gemm-tuning.json, or $WIDENET_TUNING_FILE.
    public static var cacheFile: URL {
        if let path = ProcessInfo.processInfo.environment["WIDENET_TUNING_FILE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let base = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("widenet/gemm-tuning.json")
    }

    static func key(_ info: CLDeviceInfo, _ precision: Precision) -> String {
        "\(info.name)|\(info.driverVersion)|\(precision.rawValue)"
    }

    public static func cached(file: URL = cacheFile) -> [String: GEMMKernelConfig] {
        guard let data = try? Data(contentsOf: file),
              let table = try? JSONDecoder().decode([String: GEMMKernelConfig].self, from: data) else { return [:] }
        return table
    }

    public static func store(_ config: GEMMKernelConfig, for info: CLDeviceInfo, precision: Precision,
                             file: URL = cacheFile) throws {
        var table = cached(file: file)
        table[key(info, precision)] = config
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(try encoder.encode(table), to: file)
    }

    /// The configuration to use on a device.
    public static func config(for info: CLDeviceInfo, precision: Precision, file: URL = cacheFile) -> GEMMKernelConfig {
        let bytes = precision.bytes
        if let tuned = cached(file: file)[key(info, precision)], tuned.fits(info, scalarBytes: bytes) { return tuned }
        return defaults(vendor: info.vendor).first { $0.fits(info, scalarBytes: bytes) } ?? .reference
    }

    /// The defaults by vendor, best first; the first that fits the device is used.
    public static func defaults(vendor: String) -> [GEMMKernelConfig] {
        let v = vendor.lowercased()
        if v.contains("nvidia") { return [.tiled(128, 128, 16, 8, 8), .tiled(64, 64, 16, 4, 4)] }
        if v.contains("amd") || v.contains("advanced micro") { return [.tiled(64, 64, 16, 4, 4)] }
        return [.tiled(64, 64, 16, 4, 4), .tiled(32, 32, 16, 2, 2)]
    }

    /// What the tuner tries: the reference plus a grid of register-blocked tiles.
    public static func candidates(for info: CLDeviceInfo, precision: Precision) -> [GEMMKernelConfig] {
        var out: [GEMMKernelConfig] = [.reference]
        for tile in [32, 64, 128] {
            for kwg in [8, 16, 32] {
                for wpt in [2, 4, 8] where tile / wpt >= 4 {
                    out.append(.tiled(tile, tile, kwg, wpt, wpt))
                }
            }
        }
        return out.filter { $0.fits(info, scalarBytes: precision.bytes) }
    }
}
