import Foundation
import Testing
@testable import WideNet

/// The OpenCL device the kernel tests run on: WIDENET_TEST_DEVICE (index or name) or the first one
/// found (PoCL's CPU device in CI). nil when there is none; such tests are skipped with that reason.
enum TestDevices {
    static let openCL: CLDevice? = {
        guard let devices = try? CLDevice.all(), !devices.isEmpty else { return nil }
        if let spec = ProcessInfo.processInfo.environment["WIDENET_TEST_DEVICE"],
           let d = try? BackendSelection.pick(spec, from: devices) { return d }
        return devices[0]
    }()
    static var hasOpenCL: Bool { openCL != nil }
    static let skipReason: Comment = "no OpenCL device found (install pocl-opencl-icd to run the kernel tests)"

    static func backend() throws -> OpenCLBackend {
        guard let d = openCL else { throw BackendError("no OpenCL device") }
        return try OpenCLBackend(device: d)
    }
}

/// The seeded generator of the kernel checks (SplitMix64): a fresh seed each run unless one is given.
typealias TestRNG = CheckRNG

