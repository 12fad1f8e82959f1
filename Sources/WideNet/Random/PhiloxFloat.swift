// Box–Muller in Float for f32 runs: the same expressions in the same order as
// Sources/CWideNetCPU/philox_normal_f32.h and the *_f32 functions of Kernels/cl/philox.cl. Only
// +, −, × (correctly rounded in OpenCL's single precision and here), integer moves and exact
// conversions of integers below 2^24; Swift does not fuse a * b + c. No division or square root,
// which OpenCL may round differently, and no subnormal value, which a device may flush.
//
// Errors over every input (Benchmarks/philox_f32_error.sh): −2 log u within 0.83 ulp, the radius
// √(−2 log u) within 1.3 ulp, cos and sin within 9e-8.

extension Philox4x32 {
    /// fl(x + 0.5) · 2⁻³² in (0, 1]: one rounding of the exact value, so the same Float as
    /// `Float(uniform01(x))`; 1 only for x ≥ 2³² − 128.
    @inline(__always)
    public static func uniform01Float(_ x: UInt32) -> Float {
        let hi = Float(Int32(bitPattern: x >> 8)), lo = Float(Int32(bitPattern: x & 255)) + 0.5
        return (hi * 256.0 + lo) * 0x1p-32
    }

    /// −2 log u for u in [2⁻³³, 1] (Cephes logf: u = 2^e (1 + f), f in [√½ − 1, √2 − 1), log(1 + f)
    /// by its degree-9 polynomial, ln 2 in two parts so that e · 0.693359375 is exact).
    @inline(__always)
    public static func minusTwoLogFloat(_ u: Float) -> Float {
        let bits = u.bitPattern
        var e = Int32(bitPattern: bits >> 23) - 126
        let m = Float(bitPattern: (bits & 0x007f_ffff) | 0x3f00_0000)  // [0.5, 1)
        let low = m < 0x1.6a09e6p-1
        if low { e -= 1 }
        let x: Float = low ? (m + m) - 1.0 : m - 1.0  // exact
        let z = x * x
        var p: Float = 0x1.204376p-4
        p = p * x - 0x1.d7a37p-4
        p = p * x + 0x1.de4a34p-4
        p = p * x - 0x1.fcba9ep-4
        p = p * x + 0x1.23d37ep-3
        p = p * x - 0x1.555cap-3
        p = p * x + 0x1.999d58p-3
        p = p * x - 0x1.fffff8p-3
        p = p * x + 0x1.555554p-2
        let fe = Float(e)
        var y = (p * x) * z
        y = y + -0x1.bd0106p-13 * fe
        y = y + -0.5 * z
        var l = x + y
        l = l + 0x1.63p-1 * fe
        return -2.0 * l
    }

    /// √v for v in [0, 47]: 1/√v from the bit estimate and two Newton steps, times v, then one
    /// Heron correction (0 gives 0: the estimate for 0 is finite).
    @inline(__always)
    public static func squareRootFloat(_ v: Float) -> Float {
        var y = Float(bitPattern: 0x5f37_5a86 &- (v.bitPattern >> 1))
        let h = 0.5 * v
        y = y * (1.5 - (h * y) * y)
        y = y * (1.5 - (h * y) * y)
        let r = v * y
        // The residual v − r² is an exact subtraction (Sterbenz).
        return r + (v - r * r) * (0.5 * y)
    }

    /// (cos 2πu, sin 2πu) for u = (top 23 bits of b + 0.5) · 2⁻²³: the top two bits are the quadrant,
    /// the next 21 its fraction a in (0, 1), exact; a > ½ is reflected (1 − a is exact) so that the
    /// angle (π/2) a is at most π/4, where the Taylor polynomials to a¹¹ and a¹⁰ are within 2e-10.
    @inline(__always)
    public static func cosSin2PiFloat(_ b: UInt32) -> (cos: Float, sin: Float) {
        let quadrant = b >> 30
        var a = (Float(Int32(bitPattern: (b >> 9) & 0x1f_ffff)) + 0.5) * 0x1p-21
        let flip = a > 0.5
        if flip { a = 1.0 - a }
        let a2 = a * a
        var s: Float = -0x1.e3075p-19
        s = s * a2 + 0x1.507834p-13
        s = s * a2 - 0x1.32d2ccp-8
        s = s * a2 + 0x1.466bc6p-4
        s = s * a2 - 0x1.4abbcep-1
        s = s * a2 + 0x1.921fb6p+0
        s = s * a
        var c: Float = -0x1.a6d1f2p-16
        c = c * a2 + 0x1.e1f506p-11
        c = c * a2 - 0x1.55d3c8p-6
        c = c * a2 + 0x1.03c1fp-2
        c = c * a2 - 0x1.3bd3ccp+0
        c = c * a2 + 1.0
        let sinF = flip ? c : s, cosF = flip ? s : c
        switch quadrant {
        case 0: return (cosF, sinF)
        case 1: return (-sinF, cosF)
        case 2: return (-cosF, -sinF)
        default: return (sinF, -cosF)
        }
    }

    /// Box–Muller in Float on (w0, w1) and (w2, w3).
    @inline(__always)
    public static func normal4Float(_ bits: SIMD4<UInt32>) -> SIMD4<Float> {
        let a = boxMullerFloat(bits.x, bits.y), b = boxMullerFloat(bits.z, bits.w)
        return SIMD4(a.0, a.1, b.0, b.1)
    }

    @inline(__always)
    static func boxMullerFloat(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
        let r = squareRootFloat(minusTwoLogFloat(uniform01Float(a)))
        let cs = cosSin2PiFloat(b)
        return (r * cs.cos, r * cs.sin)
    }
}
