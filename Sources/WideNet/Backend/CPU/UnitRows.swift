import CWideNetCPU

/// The mean-field units' element work over a chunk of particles (z is rows×cw, row-major): Float
/// through the C loops of Sources/CWideNetCPU/mfld.c, Double through the plain loops below, which
/// are also the reference the C loops are tested against (the same bits: each element alone, each
/// particle's sums over the rows in order).
public protocol UnitRowKernels {
    /// z ← max(z + b, 0).
    static func biasedReluRows(_ z: UnsafeMutablePointer<Self>, rows: Int, cw: Int, bias: UnsafePointer<Self>)
    /// With v = z + b: z ← dz = 1{v ≥ 0}·c_j·a_r, gb_r += dz, ga_r += c_j·relu(v).
    static func reluGradientRows(_ z: UnsafeMutablePointer<Self>, rows: Int, cw: Int, bias: UnsafePointer<Self>, a: UnsafePointer<Self>,
                                 c: UnsafePointer<Self>, gb: UnsafeMutablePointer<Self>, ga: UnsafeMutablePointer<Self>)
    /// From t = tanh(z + b) in z: z ← dz = c_j·outer_r·(1 − t²), gb_r += dz, ga_r += c_j·slope_r·t.
    static func tanhGradientRows(_ z: UnsafeMutablePointer<Self>, rows: Int, cw: Int, outer: UnsafePointer<Self>,
                                 slope: UnsafePointer<Self>, c: UnsafePointer<Self>, gb: UnsafeMutablePointer<Self>,
                                 ga: UnsafeMutablePointer<Self>)
}

/// The plain loops.
enum UnitRows {
    static func biasedRelu<T: BinaryFloatingPoint>(_ z: UnsafeMutablePointer<T>, rows: Int, cw: Int, bias: UnsafePointer<T>) {
        for j in 0..<rows { for r in 0..<cw { z[j * cw + r] = max(z[j * cw + r] + bias[r], 0) } }
    }

    static func reluGradients<T: BinaryFloatingPoint>(_ z: UnsafeMutablePointer<T>, rows: Int, cw: Int, bias: UnsafePointer<T>,
                                                      a: UnsafePointer<T>, c: UnsafePointer<T>, gb: UnsafeMutablePointer<T>,
                                                      ga: UnsafeMutablePointer<T>) {
        for j in 0..<rows {
            let cj = c[j]
            for r in 0..<cw {
                let v = z[j * cw + r] + bias[r]
                let sg = max(v, 0), dz = v >= 0 ? cj * a[r] : 0
                z[j * cw + r] = dz
                gb[r] += dz
                ga[r] += cj * sg
            }
        }
    }

    static func tanhGradients<T: BinaryFloatingPoint>(_ z: UnsafeMutablePointer<T>, rows: Int, cw: Int, outer: UnsafePointer<T>,
                                                      slope: UnsafePointer<T>, c: UnsafePointer<T>, gb: UnsafeMutablePointer<T>,
                                                      ga: UnsafeMutablePointer<T>) {
        for j in 0..<rows {
            let cj = c[j]
            for r in 0..<cw {
                let t = z[j * cw + r]
                let dz = cj * outer[r] * (1 - t * t)
                z[j * cw + r] = dz
                gb[r] += dz
                ga[r] += cj * slope[r] * t
            }
        }
    }
}

extension Float: UnitRowKernels {
    public static func biasedReluRows(_ z: UnsafeMutablePointer<Float>, rows: Int, cw: Int, bias: UnsafePointer<Float>) {
        wn_biased_relu_f32(CPUKernels.instructionSet.code, z, rows, cw, bias)
    }
    public static func reluGradientRows(_ z: UnsafeMutablePointer<Float>, rows: Int, cw: Int, bias: UnsafePointer<Float>,
                                        a: UnsafePointer<Float>, c: UnsafePointer<Float>, gb: UnsafeMutablePointer<Float>,
                                        ga: UnsafeMutablePointer<Float>) {
        wn_relu_gradients_f32(CPUKernels.instructionSet.code, z, rows, cw, bias, a, c, gb, ga)
    }
    public static func tanhGradientRows(_ z: UnsafeMutablePointer<Float>, rows: Int, cw: Int, outer: UnsafePointer<Float>,
                                        slope: UnsafePointer<Float>, c: UnsafePointer<Float>, gb: UnsafeMutablePointer<Float>,
                                        ga: UnsafeMutablePointer<Float>) {
        wn_tanh_gradients_f32(CPUKernels.instructionSet.code, z, rows, cw, outer, slope, c, gb, ga)
    }
}

extension Double: UnitRowKernels {
    public static func biasedReluRows(_ z: UnsafeMutablePointer<Double>, rows: Int, cw: Int, bias: UnsafePointer<Double>) {
        UnitRows.biasedRelu(z, rows: rows, cw: cw, bias: bias)
    }
    public static func reluGradientRows(_ z: UnsafeMutablePointer<Double>, rows: Int, cw: Int, bias: UnsafePointer<Double>,
                                        a: UnsafePointer<Double>, c: UnsafePointer<Double>, gb: UnsafeMutablePointer<Double>,
                                        ga: UnsafeMutablePointer<Double>) {
        UnitRows.reluGradients(z, rows: rows, cw: cw, bias: bias, a: a, c: c, gb: gb, ga: ga)
    }
    public static func tanhGradientRows(_ z: UnsafeMutablePointer<Double>, rows: Int, cw: Int, outer: UnsafePointer<Double>,
                                        slope: UnsafePointer<Double>, c: UnsafePointer<Double>, gb: UnsafeMutablePointer<Double>,
                                        ga: UnsafeMutablePointer<Double>) {
        UnitRows.tanhGradients(z, rows: rows, cw: cw, outer: outer, slope: slope, c: c, gb: gb, ga: ga)
    }
}
