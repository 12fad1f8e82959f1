import COpenCL

/// One kernel argument. REAL scalars go through `real(_:)` so one call site serves f32 and f64.
public enum CLArg {
    case buffer(CLBuffer)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case float(Float)
    case double(Double)
    case local(bytes: Int)

    static func real<T: Scalar>(_ value: T) -> CLArg {
        T.precision == .f64 ? .double(Double(value)) : .float(Float(value))
    }
    static func int(_ value: Int) -> CLArg { .int32(Int32(truncatingIfNeeded: value)) }
}

/// A kernel of a built program; it is retained by the program cache and released with it.
final class CLKernel {
    let kernel: cl_kernel
    let name: String

    init(program: cl_program, name: String) throws {
        var status: cl_int = 0
        guard let k = clCreateKernel(program, name, &status) else {
            throw CLError(call: "clCreateKernel(\(name))", code: status)
        }
        try clCheck(status, "clCreateKernel(\(name))")
        kernel = k
        self.name = name
    }

    deinit { clReleaseKernel(kernel) }

    /// The static local memory the compiler allotted one work-group (CL_KERNEL_LOCAL_MEM_SIZE).
    func localMemBytes(_ device: cl_device_id) throws -> Int {
        if let cachedLocalBytes { return cachedLocalBytes }
        var bytes: cl_ulong = 0
        try clCheck(clGetKernelWorkGroupInfo(kernel, device, cl_kernel_work_group_info(CL_KERNEL_LOCAL_MEM_SIZE), 8, &bytes, nil),
                    "clGetKernelWorkGroupInfo(\(name), CL_KERNEL_LOCAL_MEM_SIZE)")
        cachedLocalBytes = Int(bytes)
        return Int(bytes)
    }
    private var cachedLocalBytes: Int?

    func set(_ args: [CLArg]) throws {
        for (i, arg) in args.enumerated() {
            let idx = cl_uint(i)
            let status: cl_int
            switch arg {
            case .buffer(let b):
                var mem: cl_mem? = b.mem
                status = clSetKernelArg(kernel, idx, MemoryLayout<cl_mem>.size, &mem)
            case .int32(var v): status = clSetKernelArg(kernel, idx, 4, &v)
            case .uint32(var v): status = clSetKernelArg(kernel, idx, 4, &v)
            case .int64(var v): status = clSetKernelArg(kernel, idx, 8, &v)
            case .float(var v): status = clSetKernelArg(kernel, idx, 4, &v)
            case .double(var v): status = clSetKernelArg(kernel, idx, 8, &v)
            case .local(let bytes): status = clSetKernelArg(kernel, idx, bytes, nil)
            }
            try clCheck(status, "clSetKernelArg(\(name), arg \(i))")
        }
    }
}
