// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11; Random123), bit-identical to
// Kernels/cl/philox.cl, so a CPU run and an OpenCL run with one seed draw the same weights and noise.
//
// Stream layout (fixed; philox.cl documents the same):
//
//   key     = (key0, key1) = (low 32 bits, high 32 bits) of the 64-bit seed
//   element e (UInt64) = offset + i          i = index into the output buffer
//   group   g = e / 4,  lane = e % 4
//
//   counter = ( g & 0xffffffff | g >> 32 | stream | step )
//               word 0           word 1    word 2   word 3
//
//   philox4x32_10(counter, key) -> (w0, w1, w2, w3); lane l takes w_l.
//
//   stream: RandomStream (1 hidden weights W, 2 output weights a, 3 Langevin noise, 4 data X,
//           5 labels y, 6 teacher, 7 shuffle);  step: training step (0 for initialisation).
//
// Conversions (the same expressions, in the same order, in philox.cl):
//   uniform     u = (x + 0.5) * 2^-32, in (0, 1), exact in Double
//   normal      Box–Muller per pair (w0, w1) -> (n0, n1), (w2, w3) -> (n2, n3):
//               r = sqrt(-2 log u_a), n_even = r cos(2π u_b), n_odd = r sin(2π u_b);
//               in Float for Float outputs (PhiloxFloat.swift: +, −, × only), in Double otherwise
//   rademacher  top bit of x set -> -1, else +1
//   stored      T(value) * scale   (round to T first, then one multiply in T; as Float, a uniform
//               above 1 − 2^-25 rounds to 1)
//
// log, cos and sin are our own, built from +, −, ×, ÷ and sqrt only in Double and from +, −, × only
// in Float: those are correctly rounded IEEE operations on every OpenCL device (in Double, on those
// with fp64) and in Swift, while libm and OpenCL builtins differ in the last bits. Swift does not
// fuse a * b + c; philox.cl turns FP_CONTRACT off. `PhiloxGenerator.version` names this arithmetic;
// runs and checkpoints record it.

import Foundation

public enum RandomDistribution: Int32, Sendable { case normal = 0, uniform = 1, rademacher = 2 }

public enum RandomStream: UInt32, Sendable {
    case hiddenWeights = 1, outputWeights = 2, langevinNoise = 3, data = 4, labels = 5, teacher = 6, shuffle = 7
    case particles = 8, testData = 9, entropyReference = 10, labelNoise = 11
    /// The start block of the Lanczos eigensolver (`widenet gram --eigensolver lanczos`).
    case krylovStart = 12
    /// `widenet resnet`: the residual vector field θ(t) and its input points; the Brownian increments of Euler–Maruyama.
    case residualField = 21, residualNoise = 22
    /// `widenet resnet --experiment train`: the task's points and labels, and the read-out's initial weights.
    case residualTask = 23, residualReadout = 24
}

public struct Philox4x32: Sendable {
    static let m0: UInt32 = 0xD251_1F53, m1: UInt32 = 0xCD9E_8D57
    static let w0: UInt32 = 0x9E37_79B9, w1: UInt32 = 0xBB67_AE85  // Weyl key increments

    /// Philox4x32 with 10 rounds (Random123 `philox4x32_R(10, ...)`).
    @inline(__always)
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k0 = key.x, k1 = key.y
        for round in 0..<10 {
            if round > 0 { k0 &+= w0; k1 &+= w1 }
            let p0 = m0.multipliedFullWidth(by: c.x)
            let p1 = m1.multipliedFullWidth(by: c.z)
            c = SIMD4(p1.high ^ c.y ^ k0, p1.low, p0.high ^ c.w ^ k1, p0.low)
        }
        return c
    }

    /// (x + 0.5) · 2⁻³², in (0, 1); never 0 or 1 as a Double.
    @inline(__always)
    public static func uniform01(_ x: UInt32) -> Double {
        (Double(x) + 0.5) * 0x1p-32
    }

    /// ±1 from the top bit.
    @inline(__always)
    public static func rademacher(_ x: UInt32) -> Double {
        (x >> 31) != 0 ? -1.0 : 1.0
    }

    /// Box–Muller on (w0, w1) and (w2, w3).
    @inline(__always)
    public static func normal4(_ bits: SIMD4<UInt32>) -> SIMD4<Double> {
        let a = boxMuller(bits.x, bits.y)
        let b = boxMuller(bits.z, bits.w)
        return SIMD4(a.0, a.1, b.0, b.1)
    }

    @inline(__always)
    static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Double, Double) {
        let r = (-2.0 * Self.log(uniform01(a))).squareRoot()
        let cs = cosSin2Pi(uniform01(b))
        return (r * cs.cos, r * cs.sin)
    }

    /// Natural log of a positive normal Double (relative error ~1e-16), mirrored by `philox_log`.
    /// x = 2^e · m with m in [√½, √2); log m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172.
    @inline(__always)
    public static func log(_ x: Double) -> Double {
        let bits = x.bitPattern
        var e = Int64(bits >> 52) - 1023
        var m = Double(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000)
        if m > 1.4142135623730951 { m = m * 0.5; e += 1 }
        let s = (m - 1.0) / (m + 1.0)  // m − 1 is exact
        let s2 = s * s
        // 2(s + s³/3 + … + s²¹/21); the first omitted term is below 1e-18 relative.
        let p = 1.0 + s2 * (0.3333333333333333 + s2 * (0.2 + s2 * (0.14285714285714285
            + s2 * (0.1111111111111111 + s2 * (0.09090909090909091 + s2 * (0.07692307692307693
            + s2 * (0.06666666666666667 + s2 * (0.058823529411764705 + s2 * (0.05263157894736842
            + s2 * 0.047619047619047616)))))))))
        let logm = (2.0 * s) * p
        // ln 2 split so that e · ln2Hi is exact (ln2Hi has 32 trailing zero bits).
        let de = Double(e)
        return de * 0.6931471803691238 + (de * 1.9082149292705877e-10 + logm)
    }

    /// (cos 2πu, sin 2πu), absolute error ~2e-16, mirrored by `philox_cossin_2pi`.
    /// Reduction is exact: t = 4u picks the quadrant, its fraction f is exact, and 1 − f for f > ½
    /// is exact (Sterbenz), leaving an angle (π/2)·a with a in [0, ½] for the Taylor polynomials.
    @inline(__always)
    public static func cosSin2Pi(_ u: Double) -> (cos: Double, sin: Double) {
        let t = u * 4.0
        let q = t.rounded(.down)
        var a = t - q
        let flip = a > 0.5
        if flip { a = 1.0 - a }
        let a2 = a * a
        // sin(πa/2) and cos(πa/2), Taylor coefficients in a (terms to a¹⁷ and a¹⁶).
        let s = a * (1.5707963267948966 + a2 * (-0.6459640975062463 + a2 * (0.07969262624616705
            + a2 * (-0.004681754135318688 + a2 * (0.00016044118478735983 + a2 * (-3.598843235212085e-06
            + a2 * (5.692172921967927e-08 + a2 * (-6.688035109811468e-10 + a2 * 6.0669357311061955e-12))))))))
        let c = 1.0 + a2 * (-1.2337005501361697 + a2 * (0.25366950790104803 + a2 * (-0.02086348076335296
            + a2 * (0.0009192602748394266 + a2 * (-2.5202042373060607e-05 + a2 * (4.710874778818172e-07
            + a2 * (-6.386603083791852e-09 + a2 * 6.565963114979473e-11)))))))
        let sinF = flip ? c : s  // sin and cos of the angle within the quadrant
        let cosF = flip ? s : c
        switch Int(q) & 3 {
        case 0: return (cosF, sinF)
        case 1: return (-sinF, cosF)
        case 2: return (-cosF, -sinF)
        default: return (sinF, -cosF)
        }
    }
}

public struct PhiloxGenerator: Sendable {
    /// The generator and its conversions as recorded in config.json and checkpoints: a change to any
    /// value drawn for a seed gets a new name, and a checkpoint drawn by another is not resumed.
    public static let version = "philox4x32-10/box-muller-f32-1"

    public let key: SIMD2<UInt32>

    public init(seed: UInt64) {
        key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    /// The four values of group g, before conversion to T.
    @inline(__always)
    func group(_ g: UInt64, stream: UInt32, step: UInt32, distribution: RandomDistribution) -> SIMD4<Double> {
        let counter = SIMD4(UInt32(truncatingIfNeeded: g), UInt32(truncatingIfNeeded: g >> 32), stream, step)
        let bits = Philox4x32.block(counter: counter, key: key)
        switch distribution {
        case .normal:
            return Philox4x32.normal4(bits)
        case .uniform:
            return SIMD4(Philox4x32.uniform01(bits.x), Philox4x32.uniform01(bits.y),
                         Philox4x32.uniform01(bits.z), Philox4x32.uniform01(bits.w))
        case .rademacher:
            return SIMD4(Philox4x32.rademacher(bits.x), Philox4x32.rademacher(bits.y),
                         Philox4x32.rademacher(bits.z), Philox4x32.rademacher(bits.w))
        }
    }

    /// out[i] = value for element index offset + i of (stream, step)
    public func fill<T: BinaryFloatingPoint>(_ out: UnsafeMutableBufferPointer<T>, offset: UInt64, stream: UInt32,
                                             step: UInt32, distribution: RandomDistribution, scale: T) {
        guard let base = out.baseAddress, !out.isEmpty else { return }
        // Concrete Float/Double paths so the per-element conversion is specialised, not generic.
        if T.self == Float.self, let s = scale as? Float {
            fillParallel(UnsafeMutableRawPointer(base).assumingMemoryBound(to: Float.self), count: out.count,
                         offset: offset, stream: stream, step: step, distribution: distribution, scale: s)
        } else if T.self == Double.self, let s = scale as? Double {
            fillParallel(UnsafeMutableRawPointer(base).assumingMemoryBound(to: Double.self), count: out.count,
                         offset: offset, stream: stream, step: step, distribution: distribution, scale: s)
        } else {  // other formats (Float16, …): correct but serial
            fillRange(base, from: offset, to: offset + UInt64(out.count), offset: offset, stream: stream, step: step,
                      distribution: distribution, scale: scale)
        }
    }

    public func array<T: BinaryFloatingPoint>(count: Int, offset: UInt64 = 0, stream: UInt32, step: UInt32,
                                              distribution: RandomDistribution, scale: T,
                                              as: T.Type = T.self) -> [T] {
        // Floating-point types are trivial, so fill may write the uninitialised storage directly.
        [T](unsafeUninitializedCapacity: max(count, 0)) { buffer, initialized in
            fill(buffer, offset: offset, stream: stream, step: step, distribution: distribution, scale: scale)
            initialized = buffer.count
        }
    }

    /// Elements per task; a multiple of 4 so that tasks split the index space on group boundaries.
    static let chunk: UInt64 = 1 << 16

    private func fillParallel<T: BinaryFloatingPoint & Sendable>(_ out: UnsafeMutablePointer<T>, count: Int,
                                                                 offset: UInt64, stream: UInt32, step: UInt32,
                                                                 distribution: RandomDistribution, scale: T) {
        let end = offset + UInt64(count)
        let first = offset / Self.chunk, last = (end - 1) / Self.chunk
        if first == last {
            fillRange(out, from: offset, to: end, offset: offset, stream: stream, step: step,
                      distribution: distribution, scale: scale)
            return
        }
        let target = SendablePointer(pointer: out)
        DispatchQueue.concurrentPerform(iterations: Int(last - first + 1)) { task in
            let k = first + UInt64(task)
            fillRange(target.pointer, from: max(offset, k * Self.chunk), to: min(end, (k + 1) * Self.chunk),
                      offset: offset, stream: stream, step: step, distribution: distribution, scale: scale)
        }
    }

    /// Elements [e0, e1) into out[e − offset]; a group cut by either end is computed once and partly written.
    /// Whole groups of normals in Float or Double go to the vectorised C loop (CPUKernels), which
    /// computes the same bits.
    @inline(__always)
    private func fillRange<T: BinaryFloatingPoint>(_ out: UnsafeMutablePointer<T>, from e0: UInt64, to e1: UInt64,
                                                   offset: UInt64, stream: UInt32, step: UInt32,
                                                   distribution: RandomDistribution, scale: T) {
        if distribution == .normal, T.self == Float.self || T.self == Double.self {
            let firstWhole = (e0 + 3) / 4, endWhole = e1 / 4
            if endWhole > firstWhole {
                if e0 < firstWhole * 4 {
                    fillGroups(out, from: e0, to: firstWhole * 4, offset: offset, stream: stream, step: step, distribution: distribution, scale: scale)
                }
                CPUKernels.normals(key: key, stream: stream, step: step, firstGroup: firstWhole, groups: Int(endWhole - firstWhole),
                                   scale: scale, into: out + Int(firstWhole * 4 - offset))
                if endWhole * 4 < e1 {
                    fillGroups(out, from: endWhole * 4, to: e1, offset: offset, stream: stream, step: step, distribution: distribution, scale: scale)
                }
                return
            }
        }
        fillGroups(out, from: e0, to: e1, offset: offset, stream: stream, step: step, distribution: distribution, scale: scale)
    }

    /// The plain loop: each group computed once, the reference of the C one. Float normals come from
    /// the Float Box–Muller (PhiloxFloat.swift), every other value from the Double one rounded to T.
    @inline(__always)
    func fillGroups<T: BinaryFloatingPoint>(_ out: UnsafeMutablePointer<T>, from e0: UInt64, to e1: UInt64,
                                            offset: UInt64, stream: UInt32, step: UInt32,
                                            distribution: RandomDistribution, scale: T) {
        if T.self == Float.self, distribution == .normal, let s = scale as? Float {
            let f = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self)
            var e = e0
            while e < e1 {
                let g = e >> 2
                let counter = SIMD4(UInt32(truncatingIfNeeded: g), UInt32(truncatingIfNeeded: g >> 32), stream, step)
                let values = Philox4x32.normal4Float(Philox4x32.block(counter: counter, key: key))
                let lane = Int(e & 3), n = Int(min(UInt64(4 - lane), e1 - e))
                for j in 0..<n { f[Int(e - offset) + j] = values[lane + j] * s }
                e += UInt64(n)
            }
            return
        }
        var e = e0
        while e < e1 {
            let values = group(e >> 2, stream: stream, step: step, distribution: distribution)
            let lane = Int(e & 3)
            let n = Int(min(UInt64(4 - lane), e1 - e))
            let dst = out + Int(e - offset)
            if n == 4 {
                dst[0] = T(values[0]) * scale
                dst[1] = T(values[1]) * scale
                dst[2] = T(values[2]) * scale
                dst[3] = T(values[3]) * scale
            } else {
                for j in 0..<n { dst[j] = T(values[lane + j]) * scale }
            }
            e += UInt64(n)
        }
    }
}

/// Lets the concurrentPerform tasks share the output buffer; they write disjoint ranges.
private struct SendablePointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
}
