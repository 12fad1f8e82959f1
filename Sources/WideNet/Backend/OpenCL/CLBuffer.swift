import COpenCL

/// A device buffer that releases itself.
public final class CLBuffer: DeviceBuffer {
    let mem: cl_mem
    public let byteCount: Int

    init(context: cl_context, bytes: Int) throws {
        var status: cl_int = 0
        // A zero-sized buffer is invalid in OpenCL; callers may legitimately ask for empty arrays.
        let size = max(bytes, 4)
        guard let mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), size, nil, &status) else {
            throw CLError(call: "clCreateBuffer(\(bytes) bytes)", code: status)
        }
        try clCheck(status, "clCreateBuffer(\(bytes) bytes)")
        self.mem = mem
        self.byteCount = bytes
    }

    deinit { clReleaseMemObject(mem) }
}
