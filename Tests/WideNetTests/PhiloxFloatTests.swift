import Foundation
import Testing
@testable import WideNet

/// The Float Box–Muller of f32 runs (PhiloxFloat.swift, philox_normal_f32.h, philox.cl's *_f32):
/// the same bits as numpy's float32 arithmetic written from the description, close to the exact
/// transform of the same inputs, and normally distributed.
@Suite struct PhiloxFloatTests {
    /// Every C variant and the Swift loop against Tests/References/philox_normal_f32.py, bit for bit,
    /// over offsets that cut groups at both ends and counters past 2^32.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"),
          arguments: [(UInt64(0x0123_4567_89AB_CDEF), UInt32(1), UInt32(0), UInt64(13), 100_003),
                      (UInt64(7), UInt32(3), UInt32(41), (UInt64(1) << 34) - 6, 4097)])
    func matchesNumpyFloat32(seed: UInt64, stream: UInt32, step: UInt32, offset: UInt64, count: Int) throws {
        let dir = try CLITests.scratch()
        let file = dir.appendingPathComponent("ref.npy")
        let script = PrechangeFixtureTests.repository.appendingPathComponent("Tests/References/philox_normal_f32.py").path
        // Whole groups around the range: the C loops take whole groups, the fill cuts them.
        let first = offset / 4, groups = Int((offset + UInt64(count) + 3) / 4 - first)
        let py = try NPYTests.python([script, "\(seed)", "\(stream)", "\(step)", "\(first * 4)", "\(groups * 4)", file.path])
        try #require(py.status == 0, "\(py.output)")
        let reference = try NPY.read(file).values.map { Float($0).bitPattern }
        let generator = PhiloxGenerator(seed: seed)
        for isa in CPUInstructionSet.allCases where isa.isSupported {
            var got = [Float](repeating: .nan, count: groups * 4)
            got.withUnsafeMutableBufferPointer {
                CPUKernels.normals(key: generator.key, stream: stream, step: step, firstGroup: first, groups: groups,
                                   scale: Float(1), into: $0.baseAddress!, in: isa)
            }
            let wrong = zip(reference, got).filter { $0 != $1.bitPattern }.count
            #expect(wrong == 0, "\(isa): \(wrong) of \(groups * 4) normals differ from numpy's float32")
        }
        let skip = Int(offset - first * 4)
        let want = Array(reference[skip..<skip + count])
        let filled: [Float] = generator.array(count: count, offset: offset, stream: stream, step: step, distribution: .normal, scale: 1)
        #expect(filled.map(\.bitPattern) == want, "the fill, whole groups in C and the cut ones in Swift")
        var plain = [Float](repeating: .nan, count: count)
        plain.withUnsafeMutableBufferPointer {
            generator.fillGroups($0.baseAddress!, from: offset, to: offset + UInt64(count), offset: offset, stream: stream,
                                 step: step, distribution: .normal, scale: 1)
        }
        #expect(plain.map(\.bitPattern) == want, "the plain Swift loop")
    }

    /// Against the exact transform (Double libm) of the same float inputs: −2 log u within 1 ulp,
    /// the radius within 1.5 ulp, cos and sin within 1e-7, so a normal within 2.5e-7 r + 1 ulp.
    @Test func closeToTheExactTransform() {
        var worstLog = 0.0, worstRadius = 0.0, worstAngle = 0.0, worstNormal = 0.0
        var x: UInt32 = 0x2545_F491
        var inputs: [UInt32] = [0, 1, 127, 128, 255, 256, 0xffff_ff7f, 0xffff_ff80, .max, 1 << 31, (1 << 31) - 1]
        for _ in 0..<400_000 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; inputs.append(x) }
        for a in inputs {
            let u = Philox4x32.uniform01Float(a)
            let v = Philox4x32.minusTwoLogFloat(u), exactV = -2 * Foundation.log(Double(u))
            let r = Philox4x32.squareRootFloat(v), exactR = exactV.squareRoot()
            if exactV > 0 {
                worstLog = max(worstLog, abs(Double(v) - exactV) / Double(Float(exactV).ulp))
                worstRadius = max(worstRadius, abs(Double(r) - exactR) / Double(Float(exactR).ulp))
            } else {
                #expect(v == 0 && r == 0, "u = 1 gives radius 0, not \(r)")
            }
            let b = a &* 0x9E37_79B9
            let angle = 2 * Double.pi * ((Double(b >> 9) + 0.5) * 0x1p-23)
            let cs = Philox4x32.cosSin2PiFloat(b)
            worstAngle = max(worstAngle, abs(Double(cs.cos) - cos(angle)), abs(Double(cs.sin) - sin(angle)))
            let n = Philox4x32.boxMullerFloat(a, b).0, exact = exactR * cos(angle)
            worstNormal = max(worstNormal, abs(Double(n) - exact) / (2.5e-7 * exactR + Double(Float(exact).ulp)))
        }
        #expect(worstLog <= 1, "−2 log u: \(worstLog) ulp")
        #expect(worstRadius <= 1.5, "radius: \(worstRadius) ulp")
        #expect(worstAngle <= 1e-7, "cos/sin: \(worstAngle)")
        #expect(worstNormal <= 1, "normal: \(worstNormal) of its bound")
    }

    /// The Float uniform is the Double one rounded to Float, so uniform draws keep their bits.
    @Test func floatUniformIsTheRoundedDouble() {
        var x: UInt32 = 0x1234_5678
        var inputs: [UInt32] = [0, 1, 255, 256, 0x00ff_ffff, 0x0100_0000, 0xffff_ff7f, 0xffff_ff80, .max]
        for _ in 0..<200_000 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; inputs.append(x) }
        for a in inputs {
            #expect(Philox4x32.uniform01Float(a) == Float(Philox4x32.uniform01(a)), "x = \(a)")
        }
    }

    /// 10^6 Float normals: moments and the mass beyond 3 and 4 standard deviations (bounds about 5
    /// standard errors), and the largest values reach the tail the 32-bit uniform allows.
    @Test func floatNormalsAreNormal() {
        let x: [Float] = PhiloxGenerator(seed: 3).array(count: 1_000_000, stream: 1, step: 0, distribution: .normal, scale: 1)
        let n = Double(x.count)
        let m1 = x.reduce(0.0) { $0 + Double($1) } / n
        let m2 = x.reduce(0.0) { $0 + Double($1) * Double($1) } / n
        let m4 = x.reduce(0.0) { $0 + pow(Double($1), 4) } / n
        #expect(abs(m1) < 0.005)
        #expect(abs(m2 - 1) < 0.007)
        #expect(abs(m4 - 3) < 0.05)
        let beyond3 = Double(x.filter { abs($0) > 3 }.count) / n, beyond4 = Double(x.filter { abs($0) > 4 }.count) / n
        #expect(abs(beyond3 - 2.6998e-3) < 5 * (2.6998e-3 / n).squareRoot())
        #expect(abs(beyond4 - 6.334e-5) < 5 * (6.334e-5 / n).squareRoot() + 1e-6)
        #expect(x.allSatisfy { $0.isFinite })
    }
}
