import COpenCL
import Foundation
import WideNetKernels

/// The OpenCL backend: one device, one in-order queue, programs built on first use.
/// Kernels live in Kernels/cl/*.cl; each operation's host side is in the `+OpenCL` file with
/// the same name as its CPU twin.
public final class OpenCLBackend: Backend {
    public let info: BackendInfo
    let cl: CLContext
    /// Reusable scratch buffers by purpose, grown on demand.
    private var scratch: [String: CLBuffer] = [:]
    /// GEMM tile sizes per precision, looked up once (tuning cache, else vendor default).
    private var gemmConfigs: [Precision: GEMMKernelConfig] = [:]

    /// NTK tile sizes per precision, looked up once the same way.
    private var ntkConfigs: [Precision: NTKKernelConfig] = [:]

    func gemmConfig(_ precision: Precision) -> GEMMKernelConfig {
        if let c = gemmConfigs[precision] { return c }
        let c = GEMMTuningDatabase.config(for: cl.device.info, precision: precision)
        gemmConfigs[precision] = c
        return c
    }

    /// Tiles that replace the database's choice while set (the checks compare variants this way).
    public var ntkConfigOverride: NTKKernelConfig?

    public func ntkConfig(_ precision: Precision) -> NTKKernelConfig {
        if let c = ntkConfigOverride { return c }
        if let c = ntkConfigs[precision] { return c }
        let c = NTKTuningDatabase.config(for: cl.device.info, precision: precision)
        ntkConfigs[precision] = c
        return c
    }

    /// The Gram and MFLD tiles of this device (FamilyTuningDatabase).
    public var gramConfig: GramKernelConfig { FamilyTuningDatabase.gram(vendor: cl.device.info.vendor, limits: cl.limits) }
    public var mfldConfig: MFLDKernelConfig { FamilyTuningDatabase.mfld(vendor: cl.device.info.vendor, limits: cl.limits) }

    public init(device: CLDevice) throws {
        cl = try CLContext(device: device)
        let d = device.info
        info = BackendInfo(kind: "opencl", deviceName: d.name, deviceIndex: d.index,
                           driver: "\(d.platformName) \(d.driverVersion)", globalMemBytes: d.globalMemBytes,
                           maxAllocBytes: d.maxAllocBytes, supportsF64: d.hasFP64, isGPU: d.isGPU)
    }

    /// Seconds spent compiling kernels so far (reported apart from run time).
    public var buildSeconds: Double { cl.buildSeconds }
    public func ntkTiles(_ precision: Precision) -> NTKKernelConfig? { ntkConfig(precision) }
    public func withNTKTiles(_ config: NTKKernelConfig?, _ body: () throws -> Void) throws {
        guard let config else { return try body() }
        let saved = ntkConfigOverride
        ntkConfigOverride = config
        defer { ntkConfigOverride = saved }
        try body()
    }

    func buffer(_ b: any DeviceBuffer) -> CLBuffer {
        guard let c = b as? CLBuffer else { preconditionFailure("OpenCLBackend was handed a buffer of another backend") }
        return c
    }

    func scratchBuffer(_ purpose: String, bytes: Int) throws -> CLBuffer {
        if let b = scratch[purpose], b.byteCount >= bytes { return b }
        guard bytes <= info.maxAllocBytes else {
            throw BackendError.resources("scratch buffer \(purpose) of \(bytes) bytes exceeds \(info.deviceName)'s max allocation of \(info.maxAllocBytes) bytes")
        }
        scratch[purpose] = nil     // release the smaller one before asking for the larger
        let b = try cl.makeBuffer(bytes: bytes)
        scratch[purpose] = b
        return b
    }

    /// Build options for a REAL type plus kernel-specific definitions.
    func options<T: Scalar>(_: T.Type, _ extra: [String] = []) throws -> String {
        if T.precision == .f64 {
            guard info.supportsF64 else {
                throw BackendError.resources("device \(info.deviceName) has no cl_khr_fp64: use --precision f32")
            }
            return (["-DREAL=double", "-DREAL_IS_DOUBLE=1", "-DUSE_FP64"] + extra).joined(separator: " ")
        }
        return (["-DREAL=float"] + extra).joined(separator: " ")
    }

    func kernel(_ sources: [KernelSource], _ name: String, options: String) throws -> CLKernel {
        try cl.program(sources, options: options).kernel(name)
    }

    public func allocate(bytes: Int) throws -> any DeviceBuffer {
        guard bytes >= 0 else { throw BackendError("cannot allocate \(bytes) bytes") }
        guard bytes <= info.maxAllocBytes else {
            throw BackendError.resources("a buffer of \(bytes) bytes exceeds \(info.deviceName)'s max allocation of \(info.maxAllocBytes) bytes")
        }
        return try cl.makeBuffer(bytes: bytes)
    }

    public func upload<T: BitwiseCopyable>(_ values: [T], to b: any DeviceBuffer) throws {
        let bytes = values.count * MemoryLayout<T>.stride
        guard bytes <= b.byteCount else { throw BackendError("upload of \(bytes) bytes into a \(b.byteCount)-byte buffer") }
        try values.withUnsafeBytes { try cl.write(buffer(b), from: $0.baseAddress!, bytes: bytes) }
    }

    public func download<T: BitwiseCopyable>(_ b: any DeviceBuffer, count: Int, as: T.Type) throws -> [T] {
        let bytes = count * MemoryLayout<T>.stride
        guard bytes <= b.byteCount else { throw BackendError("download of \(count) values from a \(b.byteCount)-byte buffer") }
        return try [T](unsafeUninitializedCapacity: count) { out, initialized in
            try cl.read(buffer(b), into: out.baseAddress!, bytes: bytes)
            initialized = count
        }
    }

    public func copy(_ source: any DeviceBuffer, to destination: any DeviceBuffer, bytes: Int) throws {
        guard bytes <= source.byteCount, bytes <= destination.byteCount else { throw BackendError("copy of \(bytes) bytes out of range") }
        try cl.copy(buffer(source), to: buffer(destination), bytes: bytes)
    }

    public func synchronize() throws { try cl.finish() }
}
