import Foundation
import Testing
@testable import WideNet
import WideNetKernels

/// Every kernel file (common.cl prepended, rowtile.cl in front of ntk.cl and mfld.cl, as the backend
/// builds them, with philox.cl's functions in front) compiles in f32 without cl_khr_fp64 enabled and
/// in f64, and a kernel that fails to build becomes an error naming the code and carrying the build log.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct KernelBuildTests {
    @Test(arguments: KernelSource.allCases.filter { $0 != .common }, [Precision.f32, .f64])
    func everyKernelFileBuilds(source: KernelSource, precision: Precision) throws {
        let gpu = try TestDevices.backend()
        let withPhilox = source == .philox ? [] : [KernelSource.philox]
        let options = precision == .f32 ? try gpu.options(Float.self, ["-DWITH_PHILOX"]) : try gpu.options(Double.self, ["-DWITH_PHILOX"])
        _ = try gpu.cl.program(withPhilox + [source], options: options)
        #expect(gpu.buildSeconds > 0)
    }

    @Test func brokenKernelReportsTheBuildLog() throws {
        let gpu = try TestDevices.backend()
        let source = KernelSource.common.text + "\n__kernel void broken(__global REAL *x) { x[0] = undefined_name; }\n"
        do {
            _ = try CLProgram(context: gpu.cl.context, device: gpu.cl.device.id, source: source, options: "-DREAL=float",
                              label: "broken")
            Issue.record("a kernel with an undefined name built")
        } catch let error as CLError {
            #expect(error.codeName == "CL_BUILD_PROGRAM_FAILURE")
            #expect(error.buildLog?.contains("undefined_name") == true, "build log: \(error.buildLog ?? "none")")
            #expect(!error.description.contains("\n"), "the error must fit on one line")
        }
    }

    /// The error a user sees when a kernel file fails to build: the program's name, the code, and the
    /// compiler's messages, on one line however long the log.
    @Test func buildFailureNamesTheProgramAndCarriesTheLog() throws {
        let gpu = try TestDevices.backend()
        let errors = (0..<40).map { "    x[\($0)] = missing_\($0);" }.joined(separator: "\n")
        let source = "__kernel void many_errors(__global float *x) {\n\(errors)\n}\n"
        let error = #expect(throws: CLError.self) {
            _ = try CLProgram(context: gpu.cl.context, device: gpu.cl.device.id, source: source, options: "",
                              label: "many_errors_file")
        }
        guard let error else { return }
        let line = error.description
        #expect(line.hasPrefix("OpenCL clBuildProgram(many_errors_file"), "\(line)")
        #expect(line.contains("CL_BUILD_PROGRAM_FAILURE"))
        #expect(line.contains("build log: ") && line.contains("missing_0"), "\(line)")
        #expect(!line.contains("\n"), "the error must fit on one line")
        #expect(error.buildLog?.contains("missing_39") == true, "the whole log is kept on the error")
        #expect(!line.contains("missing_39"), "the message holds the log's first lines only")
    }

    @Test func errorCodesHaveNames() {
        #expect(CLError(call: "clCreateBuffer", code: -4).description.contains("CL_MEM_OBJECT_ALLOCATION_FAILURE"))
        #expect(CLError(call: "x", code: -5).codeName == "CL_OUT_OF_RESOURCES")
        #expect(CLError(call: "x", code: -9999).codeName == "CL_UNKNOWN_ERROR")
    }
}
