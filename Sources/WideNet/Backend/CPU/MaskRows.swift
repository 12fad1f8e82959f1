/// The per-sample inner loops of the CPU NTK kernels, eight lanes at a time. Beside the two matrix
/// products they are the CPU step's whole cost, so they are written concretely for Float and
/// Double (generic code would pick the generic, software float-to-integer conversions) and
/// without a branch per neuron: a mask word's bits are lane selects of (1, 2, …, 128), summed.
public protocol MaskRowKernels {
    /// One sample's row of a chunk: z (count values), output weights a. Writes the chunk's mask
    /// words (bit r of word r/32 is 1{z_r ≥ 0}, padding bits 0) and returns Σ_r a_r relu(z_r).
    static func maskedForwardRow(z: UnsafePointer<Self>, a: UnsafePointer<Self>, count: Int,
                                 words: UnsafeMutablePointer<UInt32>) -> Self
    /// One sample's row of (S ⊙ e aᵀ): out_r = S_r · e · a_r from the chunk's mask words.
    static func scaledMaskRow(words: UnsafePointer<UInt32>, e: Self, a: UnsafePointer<Self>, count: Int,
                              out: UnsafeMutablePointer<Self>)
}

@inline(__always)
private func lanes<V: SIMD>(_ p: UnsafeRawPointer, as: V.Type) -> V { p.loadUnaligned(as: V.self) }

extension Float: MaskRowKernels {
    public static func maskedForwardRow(z: UnsafePointer<Float>, a: UnsafePointer<Float>, count: Int,
                                        words: UnsafeMutablePointer<UInt32>) -> Float {
        let bits = SIMD8<UInt32>(1, 2, 4, 8, 16, 32, 64, 128)
        var acc = SIMD8<Float>(repeating: 0)
        let full = count / 32
        for g in 0..<full {
            var word: UInt32 = 0
            for q in 0..<4 {
                let off = g * 32 + q * 8
                let v = lanes(z + off, as: SIMD8<Float>.self)
                let off8 = .!(v .>= 0)     // NaN inactive, as in the kernel and the tail
                acc += lanes(a + off, as: SIMD8<Float>.self) * v.replacing(with: 0, where: off8)
                word |= bits.replacing(with: 0, where: off8).wrappedSum() << UInt32(q * 8)
            }
            words[g] = word
        }
        return acc.sum() + scalarTail(z: z, a: a, from: full * 32, count: count, words: words)
    }

    /// Lane flags (0 or 1) of each byte of mask bits: one load instead of eight bit tests.
    static let byteFlags: [SIMD8<Float>] = (0..<256).map { b in SIMD8<Float>((0..<8).map { Float((b >> $0) & 1) }) }

    public static func scaledMaskRow(words: UnsafePointer<UInt32>, e: Float, a: UnsafePointer<Float>, count: Int,
                                     out: UnsafeMutablePointer<Float>) {
        let full = count / 8
        byteFlags.withUnsafeBufferPointer { flags in
            for g in 0..<full {
                let byte = Int((words[g >> 2] >> UInt32((g & 3) * 8)) & 0xff)
                let v = lanes(a + g * 8, as: SIMD8<Float>.self) * e * flags[byte]
                UnsafeMutableRawPointer(out + g * 8).storeBytes(of: v, as: SIMD8<Float>.self)
            }
        }
        scaledScalarTail(words: words, e: e, a: a, from: full * 8, count: count, out: out)
    }
}

extension Double: MaskRowKernels {
    public static func maskedForwardRow(z: UnsafePointer<Double>, a: UnsafePointer<Double>, count: Int,
                                        words: UnsafeMutablePointer<UInt32>) -> Double {
        let bits = SIMD8<UInt64>(1, 2, 4, 8, 16, 32, 64, 128)
        var acc = SIMD8<Double>(repeating: 0)
        let full = count / 32
        for g in 0..<full {
            var word: UInt32 = 0
            for q in 0..<4 {
                let off = g * 32 + q * 8
                let v = lanes(z + off, as: SIMD8<Double>.self)
                let off8 = .!(v .>= 0)     // NaN inactive, as in the kernel and the tail
                acc += lanes(a + off, as: SIMD8<Double>.self) * v.replacing(with: 0, where: off8)
                word |= UInt32(truncatingIfNeeded: bits.replacing(with: 0, where: off8).wrappedSum()) << UInt32(q * 8)
            }
            words[g] = word
        }
        return acc.sum() + scalarTail(z: z, a: a, from: full * 32, count: count, words: words)
    }

    static let byteFlags: [SIMD8<Double>] = (0..<256).map { b in SIMD8<Double>((0..<8).map { Double((b >> $0) & 1) }) }

    public static func scaledMaskRow(words: UnsafePointer<UInt32>, e: Double, a: UnsafePointer<Double>, count: Int,
                                     out: UnsafeMutablePointer<Double>) {
        let full = count / 8
        byteFlags.withUnsafeBufferPointer { flags in
            for g in 0..<full {
                let byte = Int((words[g >> 2] >> UInt32((g & 3) * 8)) & 0xff)
                let v = lanes(a + g * 8, as: SIMD8<Double>.self) * e * flags[byte]
                UnsafeMutableRawPointer(out + g * 8).storeBytes(of: v, as: SIMD8<Double>.self)
            }
        }
        scaledScalarTail(words: words, e: e, a: a, from: full * 8, count: count, out: out)
    }
}

/// The last partial word of a forward row (NaN counts as inactive, as in the kernel).
@inline(__always)
private func scalarTail<T: BinaryFloatingPoint>(z: UnsafePointer<T>, a: UnsafePointer<T>, from start: Int, count: Int,
                                                words: UnsafeMutablePointer<UInt32>) -> T {
    guard start < count else { return 0 }
    var word: UInt32 = 0, acc: T = 0
    for r in start..<count where z[r] >= 0 {
        word |= 1 << UInt32(r & 31)
        acc += a[r] * z[r]
    }
    words[start / 32] = word
    return acc
}

@inline(__always)
private func scaledScalarTail<T: BinaryFloatingPoint>(words: UnsafePointer<UInt32>, e: T, a: UnsafePointer<T>, from start: Int,
                                                      count: Int, out: UnsafeMutablePointer<T>) {
    guard start < count else { return }
    for r in start..<count { out[r] = (words[r >> 5] >> UInt32(r & 31)) & 1 != 0 ? e * a[r] : 0 }
}
