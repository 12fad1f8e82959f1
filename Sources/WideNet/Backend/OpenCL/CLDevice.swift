import COpenCL
import Foundation

/// One OpenCL device as discovered on some platform, with the properties WideNet plans by.
public struct CLDeviceInfo: Sendable {
    public let index: Int               // position in `CLDevice.all()`: what `--device N` means
    public let platformName: String
    public let platformVersion: String
    public let name: String
    public let vendor: String
    public let deviceVersion: String
    public let driverVersion: String
    public let isGPU: Bool
    public let isCPU: Bool
    public let computeUnits: Int
    public let maxClockMHz: Int
    public let globalMemBytes: Int
    public let maxAllocBytes: Int
    public let localMemBytes: Int
    public let maxWorkGroupSize: Int
    public let hasFP64: Bool
    public let extensions: String

    public var typeName: String { isGPU ? "GPU" : (isCPU ? "CPU" : "accelerator") }

    /// Rough peak throughput used only to rank devices for `--backend auto`.
    var rankScore: Double { Double(computeUnits) * Double(max(maxClockMHz, 1)) * (isGPU ? 64 : 1) }
}

/// A discovered device: its handle plus its properties.
public struct CLDevice: @unchecked Sendable {
    public let id: cl_device_id
    public let platform: cl_platform_id
    public let info: CLDeviceInfo

    /// Every device on every platform (never only platform 0). An absent driver (no ICD) gives
    /// an empty list, not an error: the caller decides whether that is fatal.
    public static func all() throws -> [CLDevice] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        // -1001 is CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no driver.
        if status == -1001 || platformCount == 0 { return [] }
        try clCheck(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try clCheck(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")
        var found: [(cl_device_id, cl_platform_id)] = []
        for case let platform? in platforms {
            var deviceCount: cl_uint = 0
            let st = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if st == CL_DEVICE_NOT_FOUND || deviceCount == 0 { continue }
            // A platform that cannot list its devices is skipped, not fatal: the others still work.
            guard st == CL_SUCCESS else {
                Log.logger("opencl").warning("skipping an OpenCL platform: \(CLError(call: "clGetDeviceIDs", code: st))")
                continue
            }
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            let listed = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, nil)
            guard listed == CL_SUCCESS else {
                Log.logger("opencl").warning("skipping an OpenCL platform: \(CLError(call: "clGetDeviceIDs", code: listed))")
                continue
            }
            for case let device? in devices { found.append((device, platform)) }
        }
        return collect(found, describe: describe)
    }

    /// The devices that describe themselves, indexed in order; one that fails to (a broken driver
    /// beside a working one) is left out with a warning instead of hiding every device.
    static func collect(_ found: [(cl_device_id, cl_platform_id)],
                        describe: (cl_device_id, cl_platform_id, Int) throws -> CLDeviceInfo) -> [CLDevice] {
        var result: [CLDevice] = []
        for (device, platform) in found {
            do {
                let info = try describe(device, platform, result.count)
                result.append(CLDevice(id: device, platform: platform, info: info))
            } catch {
                Log.logger("opencl").warning("skipping an OpenCL device that cannot describe itself: \(error)")
            }
        }
        return result
    }

    static func describe(_ d: cl_device_id, _ p: cl_platform_id, _ index: Int) throws -> CLDeviceInfo {
        let type: cl_device_type = try scalar(d, CL_DEVICE_TYPE)
        let ext = try string(d, CL_DEVICE_EXTENSIONS)
        let fpConfig: cl_device_fp_config = (try? scalar(d, CL_DEVICE_DOUBLE_FP_CONFIG)) ?? 0
        return CLDeviceInfo(
            index: index,
            platformName: try platformString(p, CL_PLATFORM_NAME),
            platformVersion: try platformString(p, CL_PLATFORM_VERSION),
            name: try string(d, CL_DEVICE_NAME).trimmingCharacters(in: .whitespaces),
            vendor: try string(d, CL_DEVICE_VENDOR),
            deviceVersion: try string(d, CL_DEVICE_VERSION),
            driverVersion: try string(d, CL_DRIVER_VERSION),
            isGPU: type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0,
            isCPU: type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0,
            computeUnits: Int(try scalar(d, CL_DEVICE_MAX_COMPUTE_UNITS) as cl_uint),
            maxClockMHz: Int(try scalar(d, CL_DEVICE_MAX_CLOCK_FREQUENCY) as cl_uint),
            globalMemBytes: Int(try scalar(d, CL_DEVICE_GLOBAL_MEM_SIZE) as cl_ulong),
            maxAllocBytes: Int(try scalar(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE) as cl_ulong),
            localMemBytes: Int(try scalar(d, CL_DEVICE_LOCAL_MEM_SIZE) as cl_ulong),
            maxWorkGroupSize: Int(try scalar(d, CL_DEVICE_MAX_WORK_GROUP_SIZE) as Int),
            hasFP64: ext.contains("cl_khr_fp64") || fpConfig != 0,
            extensions: ext)
    }

    static func scalar<T: BitwiseCopyable>(_ d: cl_device_id, _ param: Int32) throws -> T {
        var value = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
        try clCheck(clGetDeviceInfo(d, cl_device_info(param), value.count, &value, nil), "clGetDeviceInfo(\(param))")
        return value.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    static func string(_ d: cl_device_id, _ param: Int32) throws -> String {
        var size = 0
        try clCheck(clGetDeviceInfo(d, cl_device_info(param), 0, nil, &size), "clGetDeviceInfo(\(param))")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try clCheck(clGetDeviceInfo(d, cl_device_info(param), size, &bytes, nil), "clGetDeviceInfo(\(param))")
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func platformString(_ p: cl_platform_id, _ param: Int32) throws -> String {
        var size = 0
        try clCheck(clGetPlatformInfo(p, cl_platform_info(param), 0, nil, &size), "clGetPlatformInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try clCheck(clGetPlatformInfo(p, cl_platform_info(param), size, &bytes, nil), "clGetPlatformInfo")
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
