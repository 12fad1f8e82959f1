import CWideNetCPU

/// The CPU NTK kernels (twins of ntk.cl). The width is cut into chunks of `chunkWidth` neurons (a
/// multiple of 32, so each chunk owns whole mask words), spread over the workers, each with its own
/// scratch, so no n×width matrix exists; the chunks' partial sums are added in chunk order, so the
/// result does not depend on the thread count.
///
/// f32 runs the fused tiles of Sources/CWideNetCPU/ntk.c (the products and their element work in
/// one pass); f64, and the reference the fused tiles are tested against, is single-threaded BLAS
/// per chunk followed by the mask rows (MaskRows.swift).
extension CPUBackend {
    static let chunkWidth = 256

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func ntkForward<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer, a: any DeviceBuffer,
                                      masks: any DeviceBuffer, partialU: any DeviceBuffer, as: T.Type) throws {
        if T.self == Float.self {
            fusedForward(s, x: host(x).pointer(Float.self), w: host(w).pointer(Float.self), a: host(a).pointer(Float.self),
                         masks: host(masks).pointer(UInt32.self), partialU: host(partialU).pointer(Float.self))
        } else {
            referenceForward(s, x: host(x).pointer(T.self), w: host(w).pointer(T.self), a: host(a).pointer(T.self),
                             masks: host(masks).pointer(UInt32.self), partialU: host(partialU).pointer(T.self))
        }
    }

    func fusedForward(_ s: NTKBlockShape, x: UnsafePointer<Float>, w: UnsafePointer<Float>, a: UnsafePointer<Float>,
                      masks M: UnsafeMutablePointer<UInt32>, partialU: UnsafeMutablePointer<Float>,
                      isa: CPUInstructionSet = CPUKernels.instructionSet) {
        let C = CPUBackend.chunkWidth, chunks = (s.width + C - 1) / C
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: wn_ntk_forward_packed_floats(isa.code, s.n, s.d))
        defer { xp.deallocate() }
        wn_ntk_forward_pack_x(isa.code, x, s.n, s.d, xp)
        chunkedPartialSums(chunks: chunks, n: s.n, scratchCount: wn_ntk_scratch_floats(s.n, s.d, C), into: partialU) { c, scratch, partial in
            let r0 = c * C
            wn_ntk_forward_chunk_f32(isa.code, xp, s.n, s.d, w + r0 * s.d, a + r0, min(C, s.width - r0),
                                     M + r0 / 32, s.words, partial, scratch)
        }
    }

    func fusedBackwardUpdate(_ s: NTKBlockShape, x: UnsafePointer<Float>, w: UnsafeMutablePointer<Float>,
                             a: UnsafeMutablePointer<Float>, masks M: UnsafePointer<UInt32>, residual: UnsafePointer<Float>,
                             scale: Float, trainOutput: Bool, isa: CPUInstructionSet = CPUKernels.instructionSet) {
        let C = CPUBackend.chunkWidth, chunks = (s.width + C - 1) / C
        let xp = UnsafeMutablePointer<Float>.allocate(capacity: trainOutput ? wn_ntk_forward_packed_floats(isa.code, s.n, s.d) : 1)
        let xq = UnsafeMutablePointer<Float>.allocate(capacity: wn_ntk_backward_packed_floats(isa.code, s.n, s.d))
        defer { xp.deallocate(); xq.deallocate() }
        if trainOutput { wn_ntk_forward_pack_x(isa.code, x, s.n, s.d, xp) }
        wn_ntk_backward_pack_x(isa.code, x, s.n, s.d, xq)
        parallelRanges(chunks) { _, range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: wn_ntk_scratch_floats(s.n, s.d, C))
            defer { scratch.deallocate() }
            for c in range {
                let r0 = c * C
                wn_ntk_backward_chunk_f32(isa.code, xp, xq, s.n, s.d, w + r0 * s.d, a + r0, min(C, s.width - r0),
                                          M + r0 / 32, s.words, residual, scale, trainOutput ? 1 : 0, scratch)
            }
        }
    }

    func referenceForward<T: Scalar>(_ s: NTKBlockShape, x X: UnsafePointer<T>, w W: UnsafePointer<T>, a A: UnsafePointer<T>,
                                     masks M: UnsafeMutablePointer<UInt32>, partialU U: UnsafeMutablePointer<T>) {
        let C = CPUBackend.chunkWidth, chunks = (s.width + C - 1) / C
        chunkedPartialSums(chunks: chunks, n: s.n, scratchCount: s.n * C, into: U) { c, z, partial in
            let r0 = c * C, cw = min(C, s.width - r0)
            BLAS.gemm(GEMMShape(transB: true, m: s.n, n: cw, k: s.d), X, W + r0 * s.d, z, alpha: 1, beta: 0)
            for i in 0..<s.n {
                partial[i] = T.maskedForwardRow(z: z + i * cw, a: A + r0, count: cw, words: M + i * s.words + r0 / 32)
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func ntkBackwardUpdate<T: Scalar>(_ s: NTKBlockShape, x: any DeviceBuffer, w: any DeviceBuffer,
                                             a: any DeviceBuffer, masks: any DeviceBuffer, residual: any DeviceBuffer,
                                             scale: T, trainOutput: Bool) throws {
        if T.self == Float.self {
            fusedBackwardUpdate(s, x: host(x).pointer(Float.self), w: host(w).pointer(Float.self), a: host(a).pointer(Float.self),
                                masks: host(masks).pointer(UInt32.self), residual: host(residual).pointer(Float.self),
                                scale: Float(scale), trainOutput: trainOutput)
        } else {
            referenceBackwardUpdate(s, x: host(x).pointer(T.self), w: host(w).pointer(T.self), a: host(a).pointer(T.self),
                                    masks: host(masks).pointer(UInt32.self), residual: host(residual).pointer(T.self),
                                    scale: scale, trainOutput: trainOutput)
        }
    }

    func referenceBackwardUpdate<T: Scalar>(_ s: NTKBlockShape, x X: UnsafePointer<T>, w W: UnsafeMutablePointer<T>,
                                            a A: UnsafeMutablePointer<T>, masks M: UnsafePointer<UInt32>,
                                            residual E: UnsafePointer<T>, scale: T, trainOutput: Bool) {
        let C = CPUBackend.chunkWidth, chunks = (s.width + C - 1) / C
        BLAS.singleThreaded {
            parallelRanges(chunks) { _, range in
                // mt is (S ⊙ e aᵀ) for the chunk, n×cw; z is only needed to train a.
                let mt = UnsafeMutablePointer<T>.allocate(capacity: s.n * C)
                let z = UnsafeMutablePointer<T>.allocate(capacity: trainOutput ? s.n * C : 1)
                let ga = UnsafeMutablePointer<T>.allocate(capacity: C)
                defer { mt.deallocate(); z.deallocate(); ga.deallocate() }
                for c in range {
                    let r0 = c * C, cw = min(C, s.width - r0)
                    if trainOutput {
                        // ∇_a at the old w: Σ_i e_i relu(z_ir), before the rows move below.
                        BLAS.gemm(GEMMShape(transB: true, m: s.n, n: cw, k: s.d), X, W + r0 * s.d, z, alpha: 1, beta: 0)
                        for r in 0..<cw { ga[r] = 0 }
                        for i in 0..<s.n {
                            let e = E[i]
                            for r in 0..<cw { ga[r] += e * max(z[i * cw + r], 0) }
                        }
                    }
                    for i in 0..<s.n {
                        T.scaledMaskRow(words: M + i * s.words + r0 / 32, e: E[i], a: A + r0, count: cw, out: mt + i * cw)
                    }
                    // W_chunk ← W_chunk − scale · mtᵀ X
                    BLAS.gemm(GEMMShape(transA: true, m: cw, n: s.d, k: s.n), mt, X, W + r0 * s.d, alpha: -scale, beta: 1)
                    if trainOutput { for r in 0..<cw { A[r0 + r] -= scale * ga[r] } }
                }
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func ntkDiagnostics<T: Scalar>(_ s: NTKBlockShape, w: any DeviceBuffer, initial: InitialWeights,
                                          masks: any DeviceBuffer, masks0: any DeviceBuffer, as: T.Type) throws -> NTKBlockDiagnostics {
        let W = host(w).pointer(T.self)
        let M = host(masks).pointer(UInt32.self), M0 = host(masks0).pointer(UInt32.self)
        var maxes = [Double](repeating: 0, count: workers), flips = [Int](repeating: 0, count: workers)
        maxes.withUnsafeMutableBufferPointer { mx in
            let mx = mx.baseAddress!
            parallelRanges(s.width) { p, range in
                // Regenerated weights come a few thousand neurons at a time into a worker scratch.
                let piece = 4096
                let scratch = UnsafeMutablePointer<T>.allocate(capacity: piece * s.d)
                defer { scratch.deallocate() }
                var best: T = 0
                var r = range.lowerBound
                while r < range.upperBound {
                    let count = min(piece, range.upperBound - r)
                    let w0: UnsafePointer<T>
                    switch initial {
                    case .stored(let b):
                        w0 = UnsafePointer(host(b).pointer(T.self) + r * s.d)
                    case .philox(let seed, let offset, let scale):
                        PhiloxGenerator(seed: seed).fill(UnsafeMutableBufferPointer(start: scratch, count: count * s.d),
                                                         offset: offset + UInt64(r * s.d),
                                                         stream: RandomStream.hiddenWeights.rawValue, step: 0,
                                                         distribution: .normal, scale: T(scale))
                        w0 = UnsafePointer(scratch)
                    }
                    for j in 0..<count {
                        var acc: T = 0
                        for k in 0..<s.d { let t = W[(r + j) * s.d + k] - w0[j * s.d + k]; acc += t * t }
                        best = max(best, acc)
                    }
                    r += count
                }
                mx[p] = Double(best)
            }
        }
        flips.withUnsafeMutableBufferPointer { fl in
            let fl = fl.baseAddress!
            parallelRanges(s.maskWords) { p, range in
                var count = 0
                for q in range { count += (M[q] ^ M0[q]).nonzeroBitCount }
                fl[p] = count
            }
        }
        return NTKBlockDiagnostics(maxMoveSquared: maxes.max() ?? 0, flips: flips.reduce(0, +))
    }
}
