import Foundation
import Testing
@testable import WideNet

/// The C loops of Sources/CWideNetCPU: every variant this processor runs gives the same bits as the
/// others and stays within its stated error of the plain reference (libm in double, rounded), on
/// fresh inputs that span the special cases, at sizes that are no multiple of a vector, with the
/// output poisoned first; WIDENET_CPU_ISA is checked, not ignored; an mfld run is the same file for
/// file whichever variant runs it.
struct CPUKernelTests {
    static let variants = CPUInstructionSet.allCases.filter(\.isSupported)

    static func ulps(_ a: Float, _ b: Float) -> Int {
        func ordered(_ f: Float) -> Int { let b = Int32(bitPattern: f.bitPattern); return b < 0 ? -Int(b & 0x7fff_ffff) : Int(b) }
        return abs(ordered(a) - ordered(b))
    }

    static func inputs(_ rng: inout TestRNG, count: Int) -> [Float] {
        var x: [Float] = (0..<count).map { i in
            switch i % 5 {
            case 0: return Float.random(in: -0.01...0.01, using: &rng)
            case 1: return Float.random(in: -3...3, using: &rng)
            case 2: return Float.random(in: -12...12, using: &rng)
            case 3: return Float(sign: Bool.random(using: &rng) ? .minus : .plus, exponent: Int.random(in: -140 ... -20, using: &rng),
                                 significand: Float.random(in: 1..<2, using: &rng))
            default: return Float.random(in: 8.9...9.6, using: &rng) * (Bool.random(using: &rng) ? 1 : -1)
            }
        }
        let special: [Float] = [0, -0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                                .greatestFiniteMagnitude, 9.5, -9.5, 9.0099, 1e-30, 0.55, -0.55]
        for (i, v) in special.enumerated() { x[i * 7 % count] = v }
        return x
    }

    @Test func tanhVariantsAgreeBitForBitWithinTwoUlps() throws {
        var rng = TestRNG()
        let count = 4099
        let x = Self.inputs(&rng, count: count)
        var reference: [Float]? = nil
        for isa in Self.variants {
            var out = [Float](repeating: .nan, count: count)
            x.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in CPUKernels.tanh(i.baseAddress!, o.baseAddress!, count: count, in: isa) } }
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { b in CPUKernels.tanh(b.baseAddress!, b.baseAddress!, count: count, in: isa) }
            #expect(out.map(\.bitPattern) == inPlace.map(\.bitPattern), "\(isa): in place differs")
            for i in 0..<count {
                let want = Float(Foundation.tanh(Double(x[i])))
                if x[i].isNaN { #expect(out[i].isNaN, "\(isa): tanh(NaN) = \(out[i])"); continue }
                #expect(Self.ulps(out[i], want) <= 2, "\(isa), seed \(rng.seed): tanh(\(x[i])) = \(out[i]), want \(want)")
            }
            if let reference { #expect(out.map(\.bitPattern) == reference.map(\.bitPattern), "\(isa) differs from \(Self.variants[0])") }
            reference = out
        }
    }

    @Test func dotVariantsAgreeBitForBit() throws {
        var rng = TestRNG()
        for count in [1, 7, 8, 9, 255, 1031] {
            let a: [Float] = rng.normals(count), b: [Float] = rng.normals(count)
            let sums = Self.variants.map { isa in a.withUnsafeBufferPointer { p in b.withUnsafeBufferPointer { q in
                CPUKernels.dot(p.baseAddress!, q.baseAddress!, count: count, in: isa) } } }
            #expect(Set(sums.map(\.bitPattern)).count == 1, "count \(count): \(sums)")
            let exact = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let scale = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            #expect(abs(Double(sums[0]) - exact) <= 1e-6 * max(scale, 1e-30), "seed \(rng.seed), count \(count)")
        }
    }

    @Test func forcedInstructionSetIsCheckedNotIgnored() throws {
        #expect(try CPUKernels.resolve([:]) == Self.variants[0])
        #expect(try CPUKernels.resolve(["WIDENET_CPU_ISA": "baseline"]) == .baseline)
        #expect(throws: BackendError.self) { try CPUKernels.resolve(["WIDENET_CPU_ISA": "sse9"]) }
        if let missing = CPUInstructionSet.allCases.first(where: { !$0.isSupported }) {
            #expect(throws: BackendError.self) { try CPUKernels.resolve(["WIDENET_CPU_ISA": missing.rawValue]) }
        }
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["mfld", "--steps", "1", "--quiet", "--out", out.path], env: ["WIDENET_CPU_ISA": "sse9"])
        #expect(r.status == FailureClass.usage.exitCode && r.stderr.contains("WIDENET_CPU_ISA"), "\(r.stderr)")
    }

    /// A tanh mfld run in f32, forced to each variant: the same metrics and particles, byte for byte.
    @Test func mfldRunIsTheSameOnEveryVariant() throws {
        let dir = try CLITests.scratch()
        var files: [Data] = []
        for isa in Self.variants {
            let out = dir.appendingPathComponent(isa.rawValue)
            let r = try CLITests.run(["mfld", "--task", "teacher", "--n", "70", "--d", "5", "--particles", "517", "--steps", "6",
                                      "--precision", "f32", "--backend", "cpu", "--save-particles", "--quiet", "--out", out.path],
                                     env: ["WIDENET_CPU_ISA": isa.rawValue])
            try #require(r.status == 0, "\(isa): \(r.stderr)")
            files.append(try Data(contentsOf: out.appendingPathComponent("particles.npy")))
        }
        #expect(Set(files).count == 1, "particles differ between \(Self.variants)")
    }

    /// An f32 train run (output layer trained too) forced to each variant: the same metrics and
    /// weights, byte for byte (worker counts: NTKFusedKernelTests).
    @Test func trainRunIsTheSameOnEveryVariant() throws {
        let dir = try CLITests.scratch()
        var files: [String: Data] = [:]
        for (name, env) in Self.variants.map({ ($0.rawValue, ["WIDENET_CPU_ISA": $0.rawValue]) }) {
            let out = dir.appendingPathComponent(name)
            let r = try CLITests.run(["train", "--n", "37", "--d", "11", "--width", "1061", "--steps", "5", "--train-output",
                                      "--precision", "f32", "--backend", "cpu", "--save-weights", "--quiet", "--out", out.path], env: env)
            try #require(r.status == 0, "\(name): \(r.stderr)")
            var bytes = Data()
            for f in ["w.npy", "a.npy", "u.npy", "metrics.jsonl"] { bytes += try Data(contentsOf: out.appendingPathComponent(f)) }
            files[name] = bytes
        }
        #expect(Set(files.values).count == 1, "runs differ: \(files.mapValues(\.count))")
    }
}

/// The vectorised Philox normals against the plain Swift generator they replace on whole groups:
/// the same bits for Float and Double, every variant, at offsets and lengths that cut groups.
struct PhiloxKernelTests {
    @Test func vectorisedNormalsAreTheSwiftGeneratorsBits() throws {
        var rng = TestRNG()
        let generator = PhiloxGenerator(seed: rng.next())
        for (offset, count) in [(0, 4), (1, 9), (3, 1030), (UInt64(1) << 33 | 2, 517)] as [(UInt64, Int)] {
            let stream = RandomStream.langevinNoise.rawValue, step = UInt32.random(in: 0...1000, using: &rng)
            var wantF = [Float](repeating: .nan, count: count), wantD = [Double](repeating: .nan, count: count)
            wantF.withUnsafeMutableBufferPointer { b in
                generator.fillGroups(b.baseAddress!, from: offset, to: offset + UInt64(count), offset: offset, stream: stream,
                                     step: step, distribution: .normal, scale: 0.7)
            }
            wantD.withUnsafeMutableBufferPointer { b in
                generator.fillGroups(b.baseAddress!, from: offset, to: offset + UInt64(count), offset: offset, stream: stream,
                                     step: step, distribution: .normal, scale: 0.7)
            }
            #expect(wantF.allSatisfy(\.isFinite) && wantD.allSatisfy(\.isFinite))
            // Through fill (whole groups in C, the cut ones in Swift) …
            let gotF: [Float] = generator.array(count: count, offset: offset, stream: stream, step: step, distribution: .normal, scale: 0.7)
            let gotD: [Double] = generator.array(count: count, offset: offset, stream: stream, step: step, distribution: .normal, scale: 0.7)
            #expect(gotF.map(\.bitPattern) == wantF.map(\.bitPattern), "seed \(rng.seed): Float at offset \(offset)")
            #expect(gotD.map(\.bitPattern) == wantD.map(\.bitPattern), "seed \(rng.seed): Double at offset \(offset)")
            // … and each variant directly on the whole groups.
            let first = (offset + 3) / 4, groups = Int((offset + UInt64(count)) / 4) - Int(first)
            guard groups > 0 else { continue }
            for isa in CPUKernelTests.variants {
                var f = [Float](repeating: .nan, count: 4 * groups)
                f.withUnsafeMutableBufferPointer { b in
                    CPUKernels.normals(key: generator.key, stream: stream, step: step, firstGroup: first, groups: groups,
                                       scale: Float(0.7), into: b.baseAddress!, in: isa)
                }
                let start = Int(first * 4 - offset)
                #expect(f.map(\.bitPattern) == wantF[start..<(start + 4 * groups)].map(\.bitPattern), "\(isa), seed \(rng.seed)")
            }
        }
    }
}

/// The NTK forward row against the plain loop: mask words exact (NaN and padding inactive, as in
/// ntk.cl and the row's own tail), the sum to rounding; lengths that cut words and lanes.
struct MaskRowKernelTests {
    @Test func maskedForwardRowMatchesThePlainLoop() throws {
        var rng = TestRNG()
        for count in [1, 8, 31, 32, 33, 100, 1027] {
            var z: [Float] = rng.normals(count), a: [Float] = rng.normals(count)
            if count > 3 { z[2] = .nan; z[count - 1] = -0.0; a[1] = 0 }
            let wordCount = (count + 31) / 32
            var want = [UInt32](repeating: 0, count: wordCount), sum = 0.0, scale = 0.0
            for r in 0..<count where z[r] >= 0 {
                want[r / 32] |= 1 << UInt32(r % 32); sum += Double(a[r]) * Double(z[r]); scale += abs(Double(a[r]) * Double(z[r]))
            }
            var words = [UInt32](repeating: 0xDEAD_BEEF, count: wordCount)
            let got = z.withUnsafeBufferPointer { zp in a.withUnsafeBufferPointer { ap in words.withUnsafeMutableBufferPointer { w in
                Float.maskedForwardRow(z: zp.baseAddress!, a: ap.baseAddress!, count: count, words: w.baseAddress!) } } }
            #expect(words == want, "count \(count), seed \(rng.seed): mask words")
            #expect(abs(Double(got) - sum) <= 1e-5 * max(scale, 1e-30), "count \(count), seed \(rng.seed): \(got) vs \(sum)")
            let zd = z.map(Double.init), ad = a.map(Double.init)
            var wordsD = [UInt32](repeating: 0xDEAD_BEEF, count: wordCount)
            let gotD = zd.withUnsafeBufferPointer { zp in ad.withUnsafeBufferPointer { ap in wordsD.withUnsafeMutableBufferPointer { w in
                Double.maskedForwardRow(z: zp.baseAddress!, a: ap.baseAddress!, count: count, words: w.baseAddress!) } } }
            #expect(wordsD == want, "count \(count), seed \(rng.seed): Double mask words")
            #expect(abs(gotD - sum) <= 1e-12 * max(scale, 1e-30), "count \(count): Double sum \(gotD) vs \(sum)")
        }
    }
}
