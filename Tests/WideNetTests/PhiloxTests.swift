import Foundation
import Testing
import WideNet

@Suite struct PhiloxTests {
    // MARK: Philox4x32-10 block

    /// Random123 tests/kat_vectors, the three "philox4x32 10" lines (counter, key -> output).
    @Test func knownAnswerVectors() {
        let cases: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
            (SIMD4(repeating: 0xffff_ffff), SIMD2(repeating: 0xffff_ffff),
             SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
            (SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), SIMD2(0xa409_3822, 0x299f_31d0),
             SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
        ]
        for (counter, key, expected) in cases {
            #expect(Philox4x32.block(counter: counter, key: key) == expected)
        }
    }

    @Test func seedSplitsIntoLowAndHighKeyWords() {
        #expect(PhiloxGenerator(seed: 0x0123_4567_89AB_CDEF).key == SIMD2(0x89AB_CDEF, 0x0123_4567))
    }

    /// The stream layout: element e takes lane e % 4 of block((g lo, g hi, stream, step), key), g = e / 4,
    /// including groups past 2^32 (counter word 1).
    @Test func elementsFollowTheCounterLayout() {
        let gen = PhiloxGenerator(seed: 0xDEAD_BEEF_0BAD_F00D)
        let offset: UInt64 = (1 << 34) - 6
        let values = gen.array(count: 12, offset: offset, stream: 5, step: 9, distribution: .uniform, scale: 1.0)
        for (i, v) in values.enumerated() {
            let e = offset + UInt64(i), g = e / 4
            let bits = Philox4x32.block(counter: SIMD4(UInt32(g & 0xffff_ffff), UInt32(g >> 32), 5, 9), key: gen.key)
            #expect(v == Philox4x32.uniform01(bits[Int(e % 4)]))
        }
    }

    /// Pinned from an independent Python implementation of the same arithmetic (seed 0x0123456789ABCDEF,
    /// stream 1, step 0, elements 13..<19); guards the expression order that philox.cl mirrors.
    @Test func goldenValues() {
        let gen = PhiloxGenerator(seed: 0x0123_4567_89AB_CDEF)
        let expected: [(RandomDistribution, [UInt64])] = [
            (.normal, [0xbfc1_5626_fcc0_70a2, 0xbff8_0a08_20dd_62e1, 0xbfec_91c4_c820_0b34,
                       0x3fd9_df97_2c8c_cf8d, 0xbfc2_d281_39c9_296b, 0x3ff3_b245_14a8_a14f]),
            (.uniform, [0x3fe1_1afc_7ad0_0000, 0x3fcb_cb36_69c0_0000, 0x3fe2_bb0c_3b90_0000,
                        0x3fed_2c02_6230_0000, 0x3fee_3927_f850_0000, 0x3fc9_4149_88c0_0000]),
            (.rademacher, [0xbff0_0000_0000_0000, 0x3ff0_0000_0000_0000, 0xbff0_0000_0000_0000,
                           0xbff0_0000_0000_0000, 0xbff0_0000_0000_0000, 0x3ff0_0000_0000_0000]),
        ]
        for (distribution, bits) in expected {
            let values = gen.array(count: 6, offset: 13, stream: 1, step: 0, distribution: distribution, scale: 1.0)
            #expect(values.map(\.bitPattern) == bits, "\(distribution)")
        }
    }

    // MARK: portable transcendental functions

    @Test func logMatchesFoundation() {
        var inputs: [Double] = (0..<200_000).map { Philox4x32.uniform01(UInt32(truncatingIfNeeded: $0 &* 21_473)) }
        inputs += (1...100_000).map { 1.0 + Double($0) * 1e-12 }           // just above 1
        inputs += (1...100_000).map { 1.0 - Double($0) * 1e-12 }           // just below 1
        inputs += (0..<100_000).map { pow(2.0, Double($0) * 0.02 - 1000) }  // the whole normal range
        inputs += [Philox4x32.uniform01(0), Philox4x32.uniform01(.max), 0.5, 2.0, 2.0.squareRoot(), 0.5.squareRoot()]
        var worst = 0.0
        for x in inputs {
            let ref = Foundation.log(x), ours = Philox4x32.log(x)
            worst = max(worst, abs(ours - ref) / max(abs(ref), .leastNormalMagnitude))
        }
        #expect(worst < 1e-14, "max relative error \(worst)")
        #expect(Philox4x32.log(1.0) == 0)
    }

    @Test func cosSinMatchFoundation() {
        let n = 1 << 20
        var inputs: [Double] = (0..<n).map { (Double($0) + 0.5) / Double(n) }
        inputs += (0..<200_000).map { Philox4x32.uniform01(UInt32(truncatingIfNeeded: $0 &* 48_271)) }
        inputs += [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, Philox4x32.uniform01(0), Philox4x32.uniform01(.max)]
        var worst = 0.0
        for u in inputs {
            // Foundation's reference carries the rounding of 2πu itself (~7e-16), so compare absolutely.
            let ours = Philox4x32.cosSin2Pi(u)
            worst = max(worst, abs(ours.cos - cos(2 * Double.pi * u)), abs(ours.sin - sin(2 * Double.pi * u)))
        }
        #expect(worst < 1e-14, "max absolute error \(worst)")
        #expect(Philox4x32.cosSin2Pi(0) == (1, 0))
    }

    // MARK: fill

    @Test(arguments: [RandomDistribution.normal, .uniform, .rademacher])
    func partialGroupsMatchOneBigFill(distribution: RandomDistribution) {
        let gen = PhiloxGenerator(seed: 7)
        let whole = gen.array(count: 400, stream: 3, step: 2, distribution: distribution, scale: 1.0)
        for offset in [0, 1, 2, 3, 5, 13, 98, 255] {
            for count in [0, 1, 2, 3, 4, 5, 7, 9, 130] {
                let part = gen.array(count: count, offset: UInt64(offset), stream: 3, step: 2,
                                     distribution: distribution, scale: 1.0)
                #expect(part == Array(whole[offset..<offset + count]), "offset \(offset) count \(count)")
            }
        }
    }

    /// Large fills run on several threads in chunks; each element must still be what its counter says.
    @Test(arguments: [RandomDistribution.normal, .uniform, .rademacher])
    func parallelFillMatchesPerElementValues(distribution: RandomDistribution) {
        let gen = PhiloxGenerator(seed: 0x5EED)
        let offset: UInt64 = 13, count = 300_003
        let values = gen.array(count: count, offset: offset, stream: 1, step: 0, distribution: distribution,
                               scale: 1.0)
        var mismatches = 0
        for (i, v) in values.enumerated() {
            let e = offset + UInt64(i)
            let bits = Philox4x32.block(counter: SIMD4(UInt32(e / 4), 0, 1, 0), key: gen.key)
            let expected: Double = switch distribution {
            case .normal: Philox4x32.normal4(bits)[Int(e % 4)]
            case .uniform: Philox4x32.uniform01(bits[Int(e % 4)])
            case .rademacher: Philox4x32.rademacher(bits[Int(e % 4)])
            }
            if v != expected { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    /// Float uniforms and signs are the Double ones rounded, then scaled; Float normals come from the
    /// Float Box–Muller (PhiloxFloatTests), then scaled.
    @Test(arguments: [RandomDistribution.normal, .uniform, .rademacher])
    func floatFillIsRoundedThenScaled(distribution: RandomDistribution) {
        let gen = PhiloxGenerator(seed: 99)
        let scale: Float = 0.037
        let floats = gen.array(count: 100_001, offset: 3, stream: 2, step: 4, distribution: distribution,
                               scale: scale)
        let doubles = gen.array(count: 100_001, offset: 3, stream: 2, step: 4, distribution: distribution,
                                scale: 1.0)
        if distribution == .normal {
            let unscaled = gen.array(count: 100_001, offset: 3, stream: 2, step: 4, distribution: distribution, scale: Float(1))
            #expect(floats == unscaled.map { $0 * scale })
            // The two precisions' transforms of one draw agree up to the Float inputs' rounding: the
            // angle's 23 bits (r·4e-7) and, for u within 2^-24 of 1, the radius √(2(1 − u)) ≤ 3e-4.
            let worst = zip(unscaled, doubles).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(worst < 3e-4, "Float against Double Box–Muller: \(worst)")
        } else {
            #expect(floats == doubles.map { Float($0) * scale })
        }
        let scaled = gen.array(count: 1000, offset: 3, stream: 2, step: 4, distribution: distribution, scale: 0.3)
        #expect(scaled == doubles[..<1000].map { $0 * 0.3 })
    }

    // MARK: statistics (10^6 samples; bounds are about 5 standard errors)

    @Test func normalMoments() {
        let x = PhiloxGenerator(seed: 1).array(count: 1_000_000, stream: 1, step: 0, distribution: .normal,
                                               scale: 1.0)
        let n = Double(x.count)
        let m1 = x.reduce(0, +) / n
        let m2 = x.reduce(0) { $0 + $1 * $1 } / n
        let m3 = x.reduce(0) { $0 + $1 * $1 * $1 } / n
        let m4 = x.reduce(0) { $0 + $1 * $1 * $1 * $1 } / n
        #expect(abs(m1) < 0.005)        // sd 0.001
        #expect(abs(m2 - 1) < 0.007)    // sd 0.0014
        #expect(abs(m3) < 0.02)         // sd 0.0039
        #expect(abs(m4 - 3) < 0.05)     // sd 0.0098
        // Lanes 0/2 (cos) and 1/3 (sin) each must be standard normal, not just the mixture.
        for lane in 0..<4 {
            let l = stride(from: lane, to: x.count, by: 4).map { x[$0] }
            let mean = l.reduce(0, +) / Double(l.count)
            let variance = l.reduce(0) { $0 + $1 * $1 } / Double(l.count)
            #expect(abs(mean) < 0.01 && abs(variance - 1) < 0.014, "lane \(lane)")
        }
    }

    @Test func uniformIsStrictlyInsideTheUnitInterval() {
        let u = PhiloxGenerator(seed: 2).array(count: 1_000_000, stream: 4, step: 0, distribution: .uniform,
                                               scale: 1.0)
        #expect(u.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(Philox4x32.uniform01(0) > 0 && Philox4x32.uniform01(.max) < 1)
        let mean = u.reduce(0, +) / Double(u.count)
        let variance = u.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(u.count)
        #expect(abs(mean - 0.5) < 0.0015)        // sd 0.00029
        #expect(abs(variance - 1.0 / 12) < 0.0006)  // sd 0.000075
    }

    @Test func rademacherIsBalancedSigns() {
        let r = PhiloxGenerator(seed: 3).array(count: 1_000_000, stream: 5, step: 0, distribution: .rademacher,
                                               scale: 1.0)
        #expect(r.allSatisfy { $0 == 1 || $0 == -1 })
        #expect(abs(r.reduce(0, +) / Double(r.count)) < 0.005)  // sd 0.001
    }

    @Test func streamsStepsAndSeedsAreIndependent() {
        func draw(seed: UInt64, stream: RandomStream, step: UInt32) -> [Double] {
            PhiloxGenerator(seed: seed).array(count: 64, stream: stream.rawValue, step: step, distribution: .normal,
                                              scale: 1.0)
        }
        let draws = [
            draw(seed: 1, stream: .hiddenWeights, step: 0), draw(seed: 1, stream: .outputWeights, step: 0),
            draw(seed: 1, stream: .langevinNoise, step: 0), draw(seed: 1, stream: .langevinNoise, step: 1),
            draw(seed: 2, stream: .hiddenWeights, step: 0), draw(seed: 1 << 32, stream: .hiddenWeights, step: 0),
        ]
        for i in draws.indices {
            for j in draws.indices where j > i {
                #expect(zip(draws[i], draws[j]).allSatisfy { $0 != $1 }, "draws \(i) and \(j)")
            }
        }
        #expect(draw(seed: 1, stream: .hiddenWeights, step: 0) == draws[0])
    }
}
