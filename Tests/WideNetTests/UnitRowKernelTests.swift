import CWideNetCPU
import Foundation
import Testing
@testable import WideNet

/// The mean-field units' C loops (mfld.c) against the plain Swift loops they replace: the same
/// bits from every variant, NaN and ±0 included, at chunk widths that cut vectors, outputs poisoned.
struct UnitRowKernelTests {
    static func inputs(_ rng: inout TestRNG, rows: Int, cw: Int) -> (z: [Float], bias: [Float], a: [Float], c: [Float]) {
        var z: [Float] = rng.normals(rows * cw)
        for (i, v) in [Float.nan, 0, -0, .infinity, 1e-40].enumerated() where i * 3 < z.count { z[i * 3] = v }
        return (z, rng.normals(cw), rng.normals(cw), rng.normals(rows))
    }

    static func same(_ x: [Float], _ y: [Float]) -> Bool { x.map(\.bitPattern) == y.map(\.bitPattern) }

    @Test func reluAndTanhRowsMatchThePlainLoopsOnEveryVariant() {
        var rng = TestRNG()
        for (rows, cw) in [(1, 1), (3, 7), (17, 33), (5, 256)] {
            let inp = Self.inputs(&rng, rows: rows, cw: cw)
            let gb0: [Float] = rng.normals(cw), ga0: [Float] = rng.normals(cw)
            // The plain loops.
            var fwd = inp.z
            UnitRows.biasedRelu(&fwd, rows: rows, cw: cw, bias: inp.bias)
            var relu = inp.z, rgb = gb0, rga = ga0
            UnitRows.reluGradients(&relu, rows: rows, cw: cw, bias: inp.bias, a: inp.a, c: inp.c, gb: &rgb, ga: &rga)
            var tanh = inp.z.map { Float(Foundation.tanh(Double($0))) }, tgb = gb0, tga = ga0
            let t0 = tanh
            UnitRows.tanhGradients(&tanh, rows: rows, cw: cw, outer: inp.a, slope: inp.bias, c: inp.c, gb: &tgb, ga: &tga)
            #expect(fwd.contains { $0.isNaN } && fwd.allSatisfy { $0.isNaN || $0 >= 0 })
            for isa in CPUKernelTests.variants {
                var f = inp.z
                wn_biased_relu_f32(isa.code, &f, rows, cw, inp.bias)
                #expect(Self.same(f, fwd), "\(isa) \(rows)×\(cw), seed \(rng.seed): biased relu")
                var z = inp.z, gb = gb0, ga = ga0
                wn_relu_gradients_f32(isa.code, &z, rows, cw, inp.bias, inp.a, inp.c, &gb, &ga)
                #expect(Self.same(z, relu) && Self.same(gb, rgb) && Self.same(ga, rga), "\(isa) \(rows)×\(cw), seed \(rng.seed): relu gradients")
                var t = t0, hb = gb0, ha = ga0
                wn_tanh_gradients_f32(isa.code, &t, rows, cw, inp.a, inp.bias, inp.c, &hb, &ha)
                #expect(Self.same(t, tanh) && Self.same(hb, tgb) && Self.same(ha, tga), "\(isa) \(rows)×\(cw), seed \(rng.seed): tanh gradients")
            }
        }
    }
}
