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

/// A seeded generator for test inputs: a fresh seed each run, printed with any failure.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    let seed: UInt64
    init(seed: UInt64 = UInt64.random(in: 0...UInt64.max)) { self.seed = seed; state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func normals<T: Scalar>(_ count: Int, scale: Double = 1, as: T.Type = T.self) -> [T] {
        (0..<count).map { _ in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self), u2 = Double.random(in: 0..<1, using: &self)
            return T(scale * (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
        }
    }
    mutating func signs<T: Scalar>(_ count: Int, as: T.Type = T.self) -> [T] {
        (0..<count).map { _ in Bool.random(using: &self) ? 1 : -1 }
    }
}

/// Relative tolerance of a reduction of length k in precision T: rounding grows like √k·eps
/// for random signs, k·eps at worst; we allow k·eps with a floor.
func reductionTolerance<T: Scalar>(_: T.Type, length k: Int) -> Double {
    let eps = T.precision == .f32 ? 1.2e-7 : 2.3e-16
    return max(8, Double(k)) * eps * 4
}

/// llm.c-style check: |got − ref| ≤ abs + rel·|ref| elementwise; non-finite results always fail;
/// reports at most ten mismatches.
func expectClose<T: BinaryFloatingPoint>(_ got: [T], _ ref: [T], abs: Double, rel: Double, _ what: String,
                                         seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == ref.count, "\(what): \(got.count) values, expected \(ref.count)", sourceLocation: sourceLocation)
    var bad = 0
    for i in 0..<min(got.count, ref.count) {
        let g = Double(got[i]), r = Double(ref[i])
        if !r.isFinite { continue }
        if !g.isFinite || Swift.abs(g - r) > abs + rel * Swift.abs(r) {
            bad += 1
            if bad <= 10 {
                Issue.record("\(what)[\(i)] = \(g), reference \(r) (seed \(seed))", sourceLocation: sourceLocation)
            }
        }
    }
    if bad > 10 { Issue.record("\(what): \(bad) mismatches in all (seed \(seed))", sourceLocation: sourceLocation) }
}

/// A buffer filled with NaN (floats) or 0xFFFFFFFF (words), so unwritten outputs show.
func poisoned<T: Scalar>(_ backend: any Backend, count: Int, as: T.Type) throws -> any DeviceBuffer {
    let b = try backend.allocate(bytes: count * MemoryLayout<T>.stride)
    try backend.upload([T](repeating: .nan, count: count), to: b)
    return b
}
func poisonedWords(_ backend: any Backend, count: Int) throws -> any DeviceBuffer {
    let b = try backend.allocate(bytes: count * 4)
    try backend.upload([UInt32](repeating: 0xDEAD_BEEF, count: count), to: b)
    return b
}
func buffer<T: BitwiseCopyable>(_ backend: any Backend, _ values: [T]) throws -> any DeviceBuffer {
    let b = try backend.allocate(bytes: values.count * MemoryLayout<T>.stride)
    try backend.upload(values, to: b)
    return b
}
