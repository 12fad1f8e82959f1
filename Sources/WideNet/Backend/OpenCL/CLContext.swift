import COpenCL
import Foundation
import WideNetKernels

/// Context, in-order profiling queue and program cache for one device.
///
/// Programs are cached by (source hash, build options); the device is fixed per context, so the
/// key is complete. The cache lives in this object, not in a global, so two contexts never share
/// mutable state.
public final class CLContext {
    public let device: CLDevice
    let context: cl_context
    let queue: cl_command_queue
    private var programs: [ProgramKey: CLProgram] = [:]
    /// Seconds spent building programs, reported apart from run time.
    public private(set) var buildSeconds: Double = 0

    /// A program is named by its files, in build order, and its options: the files are fixed for the
    /// life of the process, so their text is read and joined only when the program is built.
    struct ProgramKey: Hashable { let files: [KernelSource]; let options: String }

    public init(device: CLDevice) throws {
        self.device = device
        var status: cl_int = 0
        var id: cl_device_id? = device.id
        guard let ctx = clCreateContext(nil, 1, &id, nil, nil, &status) else {
            throw CLError(call: "clCreateContext(\(device.info.name))", code: status)
        }
        try clCheck(status, "clCreateContext")
        context = ctx
        guard let q = clCreateCommandQueue(ctx, device.id, cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE), &status) else {
            clReleaseContext(ctx)
            throw CLError(call: "clCreateCommandQueue", code: status)
        }
        queue = q
    }

    deinit {
        programs.removeAll()
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    func makeBuffer(bytes: Int) throws -> CLBuffer { try CLBuffer(context: context, bytes: bytes) }

    func write(_ buffer: CLBuffer, from pointer: UnsafeRawPointer, bytes: Int, offset: Int = 0) throws {
        guard bytes > 0 else { return }
        try clCheck(clEnqueueWriteBuffer(queue, buffer.mem, cl_bool(CL_TRUE), offset, bytes, pointer, 0, nil, nil),
                    "clEnqueueWriteBuffer(\(bytes) bytes)")
    }

    func read(_ buffer: CLBuffer, into pointer: UnsafeMutableRawPointer, bytes: Int, offset: Int = 0) throws {
        guard bytes > 0 else { return }
        try clCheck(clEnqueueReadBuffer(queue, buffer.mem, cl_bool(CL_TRUE), offset, bytes, pointer, 0, nil, nil),
                    "clEnqueueReadBuffer(\(bytes) bytes)")
    }

    func copy(_ src: CLBuffer, to dst: CLBuffer, bytes: Int) throws {
        guard bytes > 0 else { return }
        try clCheck(clEnqueueCopyBuffer(queue, src.mem, dst.mem, 0, 0, bytes, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    func fill(_ buffer: CLBuffer, pattern: UInt32, bytes: Int) throws {
        guard bytes > 0 else { return }
        var p = pattern
        try clCheck(clEnqueueFillBuffer(queue, buffer.mem, &p, 4, 0, bytes, 0, nil, nil), "clEnqueueFillBuffer")
    }

    public func finish() throws { try clCheck(clFinish(queue), "clFinish") }

    /// The program built from `sources` (kernel files, concatenated after common.cl) with
    /// `options`, built once per context.
    func program(_ sources: [KernelSource], options: String) throws -> CLProgram {
        var ordered: [KernelSource] = [.common]
        for source in sources {
            for file in source.prerequisites + [source] where !ordered.contains(file) { ordered.append(file) }
        }
        let key = ProgramKey(files: ordered, options: options)
        if let p = programs[key] { return p }
        let text = ordered.map(\.text).joined(separator: "\n")
        let start = DispatchTime.now().uptimeNanoseconds
        let p = try CLProgram(context: context, device: device.id, source: text, options: options,
                              label: sources.map(\.rawValue).joined(separator: "+"))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        buildSeconds += seconds
        Log.logger("opencl").debug("built \(sources.map(\.rawValue).joined(separator: "+")) [\(options)] in \(String(format: "%.2f", seconds)) s")
        programs[key] = p
        return p
    }

    /// The limits every launch on this device is planned and checked against.
    public var limits: LaunchLimits { limitsOverride ?? LaunchLimits(device: device.info) }
    /// Smaller limits than the device's, so that the slicing of a launch can be checked on any device.
    public var limitsOverride: LaunchLimits?

    /// Enqueues a planned launch after checking it against the device: its work-group size, the
    /// local memory the compiler gave the kernel, and the portable grid. A plan that slices
    /// dimension 1 is enqueued one slice at a time, each told its first group (a trailing int).
    func launch(_ kernel: CLKernel, _ plan: KernelLaunch, args: [CLArg]) throws {
        if plan.isEmpty { return }
        try plan.check(limits, device: device.info.name)
        let compiled = try kernel.localMemBytes(device.id)
        if compiled > device.info.localMemBytes {
            throw BackendError("\(plan.kernel): the compiler gave it \(compiled) bytes of local memory, "
                + "more than \(device.info.name)'s \(device.info.localMemBytes)")
        }
        for slice in plan.slices(limits) {
            var groups = plan.groups
            if groups.count > 1 { groups[1] = slice.count }
            try kernel.set(plan.slicesDimension1 ? args + [.int(slice.base)] : args)
            let global = zip(groups, plan.local).map { $0 * $1 }
            let status: cl_int = global.withUnsafeBufferPointer { gp in
                plan.local.withUnsafeBufferPointer { lp in
                    clEnqueueNDRangeKernel(queue, kernel.kernel, cl_uint(global.count), nil, gp.baseAddress, lp.baseAddress,
                                           0, nil, nil)
                }
            }
            try clCheck(status, "clEnqueueNDRangeKernel(\(plan))")
        }
    }
}

/// A built program and its kernels by name.
final class CLProgram {
    let program: cl_program
    private var kernels: [String: CLKernel] = [:]

    init(context: cl_context, device: cl_device_id, source: String, options: String, label: String) throws {
        var status: cl_int = 0
        let prog: cl_program? = source.withCString { cstr in
            var p: UnsafePointer<CChar>? = cstr
            var len = strlen(cstr)
            return clCreateProgramWithSource(context, 1, &p, &len, &status)
        }
        guard let prog else { throw CLError(call: "clCreateProgramWithSource(\(label))", code: status) }
        try clCheck(status, "clCreateProgramWithSource(\(label))")
        var dev: cl_device_id? = device
        let buildStatus = clBuildProgram(prog, 1, &dev, options, nil, nil)
        if buildStatus != CL_SUCCESS {
            let log = CLProgram.buildLog(prog, device)
            clReleaseProgram(prog)
            throw CLError(call: "clBuildProgram(\(label), \(options))", code: buildStatus, buildLog: log)
        }
        program = prog
    }

    deinit {
        kernels.removeAll()
        clReleaseProgram(program)
    }

    func kernel(_ name: String) throws -> CLKernel {
        if let k = kernels[name] { return k }
        let k = try CLKernel(program: program, name: name)
        kernels[name] = k
        return k
    }

    static func buildLog(_ program: cl_program, _ device: cl_device_id) -> String {
        var size = 0
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size) == CL_SUCCESS,
              size > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil) == CL_SUCCESS
        else { return "" }
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
