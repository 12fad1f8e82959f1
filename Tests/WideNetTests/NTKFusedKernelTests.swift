import Foundation
import Testing
@testable import WideNet

/// The fused f32 NTK tiles of Sources/CWideNetCPU/ntk.c against the reference they replace
/// (single-threaded BLAS per chunk, then the mask rows) and against z computed in double: masks
/// exact wherever z is not within rounding of 0, sums and updates to rounding; every variant the
/// processor runs gives the same bits, and so does every worker count. Fresh random inputs, shapes
/// that cut tiles, panels, words and chunks, outputs poisoned first.
struct NTKFusedKernelTests {
    static let shapes = [NTKBlockShape(n: 1, d: 1, width: 1), NTKBlockShape(n: 7, d: 5, width: 37),
                         NTKBlockShape(n: 13, d: 64, width: 300), NTKBlockShape(n: 20, d: 17, width: 529),
                         NTKBlockShape(n: 9, d: 33, width: 256), NTKBlockShape(n: 31, d: 3, width: 1000)]

    struct Inputs {
        var x: [Float], w: [Float], a: [Float], e: [Float]
        init(_ s: NTKBlockShape, _ rng: inout TestRNG) {
            x = rng.normals(s.n * s.d); w = rng.normals(s.width * s.d, scale: 0.5)
            a = rng.normals(s.width); e = rng.normals(s.n, scale: 0.1)
        }
        /// z_ir in double.
        func z(_ s: NTKBlockShape, _ i: Int, _ r: Int) -> Double {
            (0..<s.d).reduce(0.0) { $0 + Double(x[i * s.d + $1]) * Double(w[r * s.d + $1]) }
        }
        /// Σ_k |x_ik w_rk|: the scale of z's rounding.
        func zScale(_ s: NTKBlockShape, _ i: Int, _ r: Int) -> Double {
            (0..<s.d).reduce(0.0) { $0 + abs(Double(x[i * s.d + $1]) * Double(w[r * s.d + $1])) }
        }
    }

    static func forward(_ backend: CPUBackend, _ s: NTKBlockShape, _ inp: Inputs, isa: CPUInstructionSet?) -> (masks: [UInt32], u: [Float]) {
        var masks = [UInt32](repeating: 0xDEAD_BEEF, count: s.maskWords), u = [Float](repeating: .nan, count: s.n)
        inp.x.withUnsafeBufferPointer { x in inp.w.withUnsafeBufferPointer { w in inp.a.withUnsafeBufferPointer { a in
            masks.withUnsafeMutableBufferPointer { m in u.withUnsafeMutableBufferPointer { u in
                if let isa {
                    backend.fusedForward(s, x: x.baseAddress!, w: w.baseAddress!, a: a.baseAddress!, masks: m.baseAddress!,
                                         partialU: u.baseAddress!, isa: isa)
                } else {
                    backend.referenceForward(s, x: x.baseAddress!, w: w.baseAddress!, a: a.baseAddress!, masks: m.baseAddress!,
                                             partialU: u.baseAddress!)
                }
            } }
        } } }
        return (masks, u)
    }

    static func backward(_ backend: CPUBackend, _ s: NTKBlockShape, _ inp: Inputs, masks: [UInt32], trainOutput: Bool,
                         isa: CPUInstructionSet?) -> (w: [Float], a: [Float]) {
        var w = inp.w, a = inp.a
        let scale: Float = 0.37
        inp.x.withUnsafeBufferPointer { x in inp.e.withUnsafeBufferPointer { e in masks.withUnsafeBufferPointer { m in
            w.withUnsafeMutableBufferPointer { w in a.withUnsafeMutableBufferPointer { a in
                if let isa {
                    backend.fusedBackwardUpdate(s, x: x.baseAddress!, w: w.baseAddress!, a: a.baseAddress!, masks: m.baseAddress!,
                                                residual: e.baseAddress!, scale: scale, trainOutput: trainOutput, isa: isa)
                } else {
                    backend.referenceBackwardUpdate(s, x: x.baseAddress!, w: w.baseAddress!, a: a.baseAddress!, masks: m.baseAddress!,
                                                    residual: e.baseAddress!, scale: scale, trainOutput: trainOutput)
                }
            } }
        } } }
        return (w, a)
    }

    static func bit(_ masks: [UInt32], _ s: NTKBlockShape, _ i: Int, _ r: Int) -> Bool { (masks[i * s.words + r / 32] >> UInt32(r % 32)) & 1 == 1 }

    @Test func forwardMatchesTheReferenceAndDoubleOnEveryVariant() throws {
        var rng = TestRNG()
        let backend = CPUBackend()
        for s in Self.shapes {
            let inp = Inputs(s, &rng)
            let ref = Self.forward(backend, s, inp, isa: nil)
            var first: (masks: [UInt32], u: [Float])? = nil
            for isa in CPUKernelTests.variants {
                let got = Self.forward(backend, s, inp, isa: isa)
                var uncertain = Set<Int>()   // words where some z is within rounding of 0
                for i in 0..<s.n {
                    var want = 0.0, bound = 0.0
                    for r in 0..<s.width {
                        let z = inp.z(s, i, r), tol = 1e-5 * inp.zScale(s, i, r)
                        if abs(z) <= tol { uncertain.insert(i * s.words + r / 32); continue }
                        #expect(Self.bit(got.masks, s, i, r) == (z >= 0), "\(isa) \(s), seed \(rng.seed): mask (\(i), \(r))")
                        if z > 0 { want += Double(inp.a[r]) * z }
                        bound += abs(Double(inp.a[r])) * (abs(z) + tol)
                    }
                    #expect(abs(Double(got.u[i]) - want) <= 1e-5 * bound + 1e-30, "\(isa) \(s), seed \(rng.seed): u[\(i)] = \(got.u[i]), want \(want)")
                    #expect(abs(Double(got.u[i]) - Double(ref.u[i])) <= 2e-5 * bound + 1e-30, "\(isa) \(s): u[\(i)] against the reference")
                }
                for q in 0..<s.maskWords where !uncertain.contains(q) {
                    #expect(got.masks[q] == ref.masks[q], "\(isa) \(s), seed \(rng.seed): mask word \(q) differs from the reference")
                }
                // Padding bits of each row's last word are 0.
                if s.width % 32 != 0 {
                    for i in 0..<s.n { #expect(got.masks[i * s.words + s.words - 1] >> UInt32(s.width % 32) == 0, "\(isa) \(s): padding") }
                }
                if let first {
                    #expect(got.masks == first.masks && got.u.map(\.bitPattern) == first.u.map(\.bitPattern),
                            "\(isa) \(s): differs from \(CPUKernelTests.variants[0])")
                }
                first = got
            }
        }
    }

    /// z = NaN (a sample with a NaN input) is inactive: mask 0 and nothing added, as in ntk.cl.
    @Test func nanIsInactive() throws {
        var rng = TestRNG()
        let s = NTKBlockShape(n: 5, d: 4, width: 70)
        var inp = Inputs(s, &rng)
        inp.x[2 * s.d + 1] = .nan
        for isa in CPUKernelTests.variants {
            let got = Self.forward(CPUBackend(), s, inp, isa: isa)
            #expect((0..<s.words).allSatisfy { got.masks[2 * s.words + $0] == 0 }, "\(isa): NaN row active")
            #expect(got.u[2] == 0, "\(isa): NaN row sums to \(got.u[2])")
            #expect(got.u.enumerated().allSatisfy { $0.offset == 2 || $0.element.isFinite })
        }
    }

    @Test func backwardUpdateMatchesTheReferenceOnEveryVariant() throws {
        var rng = TestRNG()
        let backend = CPUBackend()
        for s in Self.shapes {
            let inp = Inputs(s, &rng)
            let masks = Self.forward(backend, s, inp, isa: nil).masks
            for trainOutput in [false, true] {
                let ref = Self.backward(backend, s, inp, masks: masks, trainOutput: trainOutput, isa: nil)
                var first: (w: [Float], a: [Float])? = nil
                for isa in CPUKernelTests.variants {
                    let got = Self.backward(backend, s, inp, masks: masks, trainOutput: trainOutput, isa: isa)
                    // Against the update in double from the same masks.
                    for r in 0..<s.width {
                        var ga = 0.0, gaBound = 0.0
                        for i in 0..<s.n {
                            let z = inp.z(s, i, r)
                            ga += Double(inp.e[i]) * max(z, 0); gaBound += abs(Double(inp.e[i])) * (abs(z) + 1e-5 * inp.zScale(s, i, r))
                        }
                        for k in 0..<s.d {
                            var g = 0.0, bound = 0.0
                            for i in 0..<s.n where Self.bit(masks, s, i, r) {
                                g += Double(inp.e[i]) * Double(inp.x[i * s.d + k]); bound += abs(Double(inp.e[i]) * Double(inp.x[i * s.d + k]))
                            }
                            let old = Double(inp.w[r * s.d + k]), step = 0.37 * Double(inp.a[r])
                            let want = old - step * g, tol = 1e-5 * (abs(old) + abs(step) * bound) + 1e-30
                            #expect(abs(Double(got.w[r * s.d + k]) - want) <= tol, "\(isa) \(s) train a \(trainOutput), seed \(rng.seed): w[\(r), \(k)]")
                            #expect(abs(Double(got.w[r * s.d + k]) - Double(ref.w[r * s.d + k])) <= 2 * tol, "\(isa) \(s): w[\(r), \(k)] against the reference")
                        }
                        let wantA = trainOutput ? Double(inp.a[r]) - 0.37 * ga : Double(inp.a[r])
                        let tolA = 1e-5 * (abs(Double(inp.a[r])) + 0.37 * gaBound) + 1e-30
                        #expect(abs(Double(got.a[r]) - wantA) <= tolA, "\(isa) \(s) train a \(trainOutput), seed \(rng.seed): a[\(r)]")
                    }
                    if let first {
                        #expect(got.w.map(\.bitPattern) == first.w.map(\.bitPattern) && got.a.map(\.bitPattern) == first.a.map(\.bitPattern),
                                "\(isa) \(s): differs from \(CPUKernelTests.variants[0])")
                    }
                    first = got
                }
            }
        }
    }

    /// The chunks' partials are added in chunk order and each chunk is one worker's: 1, 2 and 3
    /// workers give the same bits.
    @Test func workerCountDoesNotChangeABit() throws {
        var rng = TestRNG()
        let s = NTKBlockShape(n: 11, d: 9, width: 1500)
        let inp = Inputs(s, &rng)
        let runs = [1, 2, 3].map { workers -> [UInt32] in
            let b = CPUBackend(workers: workers)
            let f = Self.forward(b, s, inp, isa: CPUKernels.instructionSet)
            let u = Self.backward(b, s, inp, masks: f.masks, trainOutput: true, isa: CPUKernels.instructionSet)
            return f.masks + f.u.map(\.bitPattern) + u.w.map(\.bitPattern) + u.a.map(\.bitPattern)
        }
        #expect(runs[0] == runs[1] && runs[1] == runs[2])
    }
}
