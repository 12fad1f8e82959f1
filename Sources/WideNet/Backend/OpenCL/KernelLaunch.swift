/// What one launch may ask of a device. OpenCL reports the work-group and local-memory limits but
/// not the grid's: NVIDIA's OpenCL inherits CUDA's 65 535 work-groups in dimensions 1 and 2, and a
/// launch past that fails or silently skips groups. Every device is planned against that
/// portable grid, so a kernel that runs on PoCL also fits an NVIDIA GPU.
public struct LaunchLimits: Sendable, Hashable, CustomStringConvertible {
    /// Work-groups per dimension.
    public var maxGroups: [Int]
    public var maxWorkGroupSize: Int
    /// Static __local bytes a work-group may use.
    public var localMemBytes: Int

    public static let portableGroups = [Int(Int32.max), 65_535, 65_535]

    /// NVIDIA's OpenCL on a data-centre GPU (H100/H200): 1024 items, 48 KB of local memory.
    public static let nvidia = LaunchLimits(maxGroups: portableGroups, maxWorkGroupSize: 1024, localMemBytes: 48 * 1024)

    public init(maxGroups: [Int], maxWorkGroupSize: Int, localMemBytes: Int) {
        self.maxGroups = maxGroups; self.maxWorkGroupSize = maxWorkGroupSize; self.localMemBytes = localMemBytes
    }

    /// A device's own limits, within the portable grid.
    public init(device info: CLDeviceInfo) {
        self.init(maxGroups: LaunchLimits.portableGroups, maxWorkGroupSize: info.maxWorkGroupSize,
                  localMemBytes: info.localMemBytes)
    }

    public var description: String {
        "groups ≤ \(maxGroups.map(String.init).joined(separator: "×")), \(maxWorkGroupSize) items, "
            + "\(localMemBytes / 1024) KiB local"
    }
}

/// One kernel launch, planned before it runs: the work-group shape, the number of work-groups in
/// each dimension, and the static local memory the kernel declares (the Swift mirror of its
/// __local arrays, checked against the compiler's own figure by the tests).
public struct KernelLaunch: Sendable, Hashable, CustomStringConvertible {
    public var kernel: String
    public var groups: [Int]
    public var local: [Int]
    public var localBytes: Int
    /// Whether the kernel takes a trailing int `group1_base` so that dimension 1 can be launched
    /// in slices of at most maxGroups[1] work-groups.
    public var slicesDimension1: Bool

    public init(kernel: String, groups: [Int], local: [Int], localBytes: Int = 0, slicesDimension1: Bool = false) {
        // A work-group flattened into dimension 0 of a 2-D grid is 1 wide in dimension 1.
        self.kernel = kernel; self.groups = groups
        self.local = local + [Int](repeating: 1, count: max(0, groups.count - local.count))
        self.localBytes = localBytes
        self.slicesDimension1 = slicesDimension1
    }

    /// A 1-D launch of `count` work-items in groups of `group`.
    public static func items(_ kernel: String, _ count: Int, group: Int, localBytes: Int = 0) -> KernelLaunch {
        KernelLaunch(kernel: kernel, groups: [ceilDiv(count, group)], local: [group], localBytes: localBytes)
    }

    public var workGroupSize: Int { local.reduce(1, *) }
    public var global: [Int] { zip(groups, local).map { $0 * $1 } }
    public var isEmpty: Bool { groups.contains(0) }

    /// The slices of dimension 1 that each fit the grid: (first group, group count).
    func slices(_ limits: LaunchLimits) -> [(base: Int, count: Int)] {
        guard groups.count > 1, slicesDimension1 else { return [(0, groups.count > 1 ? groups[1] : 1)] }
        let step = limits.maxGroups[1]
        return stride(from: 0, to: groups[1], by: step).map { ($0, min(step, groups[1] - $0)) }
    }

    /// Throws a one-line error naming the kernel, the dimension and both numbers when the launch
    /// does not fit `limits`.
    public func check(_ limits: LaunchLimits, device: String) throws {
        if workGroupSize > limits.maxWorkGroupSize {
            throw BackendError("\(kernel): a work-group of \(workGroupSize) items exceeds \(device)'s \(limits.maxWorkGroupSize)")
        }
        if localBytes > limits.localMemBytes {
            throw BackendError("\(kernel): \(localBytes) bytes of local memory exceed \(device)'s \(limits.localMemBytes)")
        }
        for (dim, count) in groups.enumerated() {
            let limit = dim < limits.maxGroups.count ? limits.maxGroups[dim] : 1
            let sliced = dim == 1 && slicesDimension1
            if count > limit && !sliced {
                throw BackendError("\(kernel): \(count) work-groups in dimension \(dim) exceed the \(limit) a launch may have")
            }
        }
        let items = global.reduce(1.0) { $0 * Double($1) }
        if items > Double(Int.max) { throw BackendError("\(kernel): \(items) work-items do not fit one launch") }
    }

    public var description: String {
        "\(kernel) groups \(groups.map(String.init).joined(separator: "×")) of "
            + "\(local.map(String.init).joined(separator: "×")), \(localBytes) B local"
    }
}

@inline(__always) func ceilDiv(_ a: Int, _ b: Int) -> Int { (a + b - 1) / b }
