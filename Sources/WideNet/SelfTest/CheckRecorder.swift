import Foundation

/// The comparisons every kernel check makes, recording what failed instead of stopping, so that
/// one check reports all its mismatches. `widenet selftest` and the test suite run the same checks
/// through this type; the tests turn each recorded failure into a test issue.
public struct CheckRecorder: Sendable {
    /// Failures, each one line with the seed that reproduces it.
    public private(set) var failures: [String] = []
    /// Comparisons made (a check that compares nothing has not checked anything).
    public private(set) var comparisons = 0
    /// The largest error seen, as a fraction of its tolerance (≤ 1 passes).
    public private(set) var worstRatio = 0.0
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    public var passed: Bool { failures.isEmpty && comparisons > 0 }

    public mutating func fail(_ message: String) { failures.append("\(message) (seed \(seed))") }

    public mutating func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
        comparisons += 1
        if !condition { fail(message()) }
    }

    /// llm.c-style: |got − ref| ≤ abs + rel·|ref| elementwise; a non-finite result always fails
    /// (so a poisoned output that was never written shows); at most ten mismatches are listed.
    public mutating func close<T: BinaryFloatingPoint>(_ got: [T], _ ref: [T], abs: Double, rel: Double, _ what: String) {
        comparisons += 1
        guard got.count == ref.count else { fail("\(what): \(got.count) values, expected \(ref.count)"); return }
        var bad = 0
        for i in 0..<got.count {
            let g = Double(got[i]), r = Double(ref[i])
            if !r.isFinite { continue }
            let allowed = abs + rel * Swift.abs(r)
            let error = Swift.abs(g - r)
            if g.isFinite && allowed > 0 { worstRatio = max(worstRatio, error / allowed) }
            if !g.isFinite || error > allowed {
                bad += 1
                if !g.isFinite { worstRatio = .infinity }
                if bad <= 10 { fail("\(what)[\(i)] = \(g), reference \(r)") }
            }
        }
        if bad > 10 { fail("\(what): \(bad) mismatches in all") }
    }

    /// Bit-for-bit equality of two arrays (raw bytes, so NaN poison never equals itself).
    public mutating func identical<T: BitwiseCopyable>(_ got: [T], _ ref: [T], _ what: String) {
        comparisons += 1
        guard got.count == ref.count else { fail("\(what): \(got.count) values, expected \(ref.count)"); return }
        let w = MemoryLayout<T>.stride
        let a = got.withUnsafeBytes { Array($0) }, b = ref.withUnsafeBytes { Array($0) }
        if let first = (0..<got.count).first(where: { a[($0 * w)..<(($0 + 1) * w)] != b[($0 * w)..<(($0 + 1) * w)] }) {
            fail("\(what): first difference at element \(first)")
        }
    }
}

/// Relative tolerance of a reduction of length k in precision T: rounding grows like √k·eps for
/// random signs, k·eps at worst; this allows 4·k·eps with a floor of k = 8.
public func reductionTolerance<T: Scalar>(_: T.Type, length k: Int) -> Double {
    let eps = T.precision == .f32 ? 1.2e-7 : 2.3e-16
    return max(8, Double(k)) * eps * 4
}

/// A seeded generator for check inputs (SplitMix64): a fresh seed each run unless one is given,
/// and the seed is printed with every failure.
public struct CheckRNG: RandomNumberGenerator, Sendable {
    var state: UInt64
    public let seed: UInt64
    public init(seed: UInt64 = UInt64.random(in: 0...UInt64.max)) { self.seed = seed; state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    public mutating func normals<T: Scalar>(_ count: Int, scale: Double = 1, as: T.Type = T.self) -> [T] {
        (0..<count).map { _ in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self), u2 = Double.random(in: 0..<1, using: &self)
            return T(scale * (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
        }
    }
    public mutating func signs<T: Scalar>(_ count: Int, as: T.Type = T.self) -> [T] {
        (0..<count).map { _ in Bool.random(using: &self) ? 1 : -1 }
    }
    public mutating func words(_ count: Int) -> [UInt32] { (0..<count).map { _ in UInt32.random(in: 0...UInt32.max, using: &self) } }
}

/// Device buffers for checks: given values, or poisoned (NaN, 0xDEADBEEF) so unwritten outputs show.
enum CheckBuffers {
    static func values<T: BitwiseCopyable>(_ backend: any Backend, _ values: [T]) throws -> any DeviceBuffer {
        let b = try backend.allocate(bytes: values.count * MemoryLayout<T>.stride)
        try backend.upload(values, to: b)
        return b
    }
    static func poisoned<T: Scalar>(_ backend: any Backend, count: Int, as: T.Type) throws -> any DeviceBuffer {
        try values(backend, [T](repeating: .nan, count: count))
    }
    static func poisonedWords(_ backend: any Backend, count: Int) throws -> any DeviceBuffer {
        try values(backend, [UInt32](repeating: 0xDEAD_BEEF, count: count))
    }
}
