/// CPU reference of mfld.cl. Particles are cut into chunks; each worker computes the chunk's
/// pre-activations Z = X Wᵀ + b with single-threaded BLAS (W read in place with stride D),
/// then the units and their gradients, so no B×N matrix exists.
extension CPUBackend {
    static let particleChunk = 256

    @inline(__always)
    static func unitValue<T: Scalar>(_ unit: ParticleUnit, z: T, a: T, scale: T) -> T {
        switch unit {
        case .tanh: return a * T.tanh(z)
        case .relu: return a * max(z, 0)
        case .bounded: return scale * T.tanh(a) * T.tanh(z)
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func mfldForward<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, unitScale: T, x: any DeviceBuffer,
                                       particles: any DeviceBuffer, partialF: any DeviceBuffer) throws {
        let X = host(x).pointer(T.self), P = host(particles).pointer(T.self), F = host(partialF).pointer(T.self)
        let D = s.coordinates, C = CPUBackend.particleChunk, chunks = (s.particles + C - 1) / C
        // Scratch: z (B×cw), then the units' outer factors and, for relu, the biases (cw each).
        chunkedPartialSums(chunks: chunks, n: s.batch, scratchCount: s.batch * C + 2 * C, into: F) { c, z, partial in
            let p0 = c * C, cw = min(C, s.particles - p0)
            BLAS.gemm(GEMMShape(transB: true, m: s.batch, n: cw, k: s.d), X, P + p0 * D, z, alpha: 1, beta: 0, ldb: D)
            let outer = z + s.batch * cw
            if unit == .relu {
                let bias = outer + cw
                for r in 0..<cw { bias[r] = P[(p0 + r) * D + s.d]; outer[r] = P[(p0 + r) * D + s.d + 1] }
                T.biasedReluRows(z, rows: s.batch, cw: cw, bias: bias)
                for j in 0..<s.batch { partial[j] = T.dotRow(outer, z + j * cw, count: cw) }
                return
            }
            // tanh units: the chunk's pre-activations biased, then one vectorised tanh over all of them.
            for r in 0..<cw {
                let row = P + (p0 + r) * D
                outer[r] = unit == .bounded ? unitScale * T.tanh(row[s.d + 1]) : row[s.d + 1]
            }
            CPUBackend.biasedTanh(z, rows: s.batch, cw: cw, P: P + p0 * D, D: D, biasAt: s.d)
            for j in 0..<s.batch { partial[j] = T.dotRow(outer, z + j * cw, count: cw) }
        }
    }

    /// z (rows×cw) ← tanh(z + b) with b the particles' bias coordinate, in place.
    @inline(__always)
    static func biasedTanh<T: Scalar>(_ z: UnsafeMutablePointer<T>, rows: Int, cw: Int, P: UnsafePointer<T>, D: Int, biasAt: Int) {
        let bias = UnsafeMutablePointer<T>.allocate(capacity: max(cw, 1))
        defer { bias.deallocate() }
        for r in 0..<cw { bias[r] = P[r * D + biasAt] }     // contiguous, so the rows' additions vectorise
        for j in 0..<rows {
            let row = z + j * cw
            for r in 0..<cw { row[r] += bias[r] }
        }
        T.tanhRow(z, z, count: rows * cw)
    }

    /// The data part of the gradient of particles p0..<p0+cw into gw (cw×d), gb, ga; z is B×cw scratch,
    /// gw holds at least 2·cw values (the units' outer factors before it holds the gradient).
    @inline(__always)
    static func particleGradients<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, unitScale R: T, X: UnsafePointer<T>,
                                             c Cf: UnsafePointer<T>, P: UnsafePointer<T>, p0: Int, cw: Int,
                                             z: UnsafeMutablePointer<T>, gw: UnsafeMutablePointer<T>,
                                             gb: UnsafeMutablePointer<T>, ga: UnsafeMutablePointer<T>) {
        let D = s.coordinates
        for r in 0..<cw { gb[r] = 0; ga[r] = 0 }
        for t in 0..<(cw * s.d) { gw[t] = 0 }
        guard s.batch > 0 else { return }
        BLAS.gemm(GEMMShape(transB: true, m: s.batch, n: cw, k: s.d), X, P + p0 * D, z, alpha: 1, beta: 0, ldb: D)
        // The units' per-particle factors go into gw until the product below overwrites it.
        if unit == .relu {
            for r in 0..<cw { gw[r] = P[(p0 + r) * D + s.d]; gw[cw + r] = P[(p0 + r) * D + s.d + 1] }
            T.reluGradientRows(z, rows: s.batch, cw: cw, bias: gw, a: gw + cw, c: Cf, gb: gb, ga: ga)
        } else {
            // Each activation once: tanh of the whole chunk, then its value and slope 1 − tanh² from it.
            CPUBackend.biasedTanh(z, rows: s.batch, cw: cw, P: P + p0 * D, D: D, biasAt: s.d)
            for r in 0..<cw {
                let a = P[(p0 + r) * D + s.d + 1]
                if unit == .bounded { let ta = T.tanh(a); gw[r] = R * ta; gw[cw + r] = R * (1 - ta * ta) }
                else { gw[r] = a; gw[cw + r] = 1 }
            }
            T.tanhGradientRows(z, rows: s.batch, cw: cw, outer: gw, slope: gw + cw, c: Cf, gb: gb, ga: ga)
        }
        // gw (cw×d) = dZᵀ X
        BLAS.gemm(GEMMShape(transA: true, m: cw, n: s.d, k: s.batch), z, X, gw, alpha: 1, beta: 0)
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func mfldUpdate<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, x: any DeviceBuffer, coefficients: any DeviceBuffer,
                                      particles: any DeviceBuffer, extraGradient: (any DeviceBuffer)?,
                                      parameters q: MFLDStepParameters, as: T.Type) throws {
        let X = host(x).pointer(T.self), Cf = host(coefficients).pointer(T.self), P = host(particles).pointer(T.self)
        let E = extraGradient.map { host($0).pointer(T.self) }
        let D = s.coordinates, C = CPUBackend.particleChunk, chunks = (s.particles + C - 1) / C
        let lr = T(q.learningRate), decay = T(q.decay), noise = T(q.noise), R = T(q.unitScale)
        let generator = PhiloxGenerator(seed: q.seed)
        BLAS.singleThreaded {
            parallelRanges(chunks) { _, range in
                let z = UnsafeMutablePointer<T>.allocate(capacity: s.batch * C + 1)
                let gw = UnsafeMutablePointer<T>.allocate(capacity: C * max(s.d, 2))   // also the units' outer factors
                let gb = UnsafeMutablePointer<T>.allocate(capacity: C), ga = UnsafeMutablePointer<T>.allocate(capacity: C)
                let xi = UnsafeMutablePointer<T>.allocate(capacity: C * D)
                defer { z.deallocate(); gw.deallocate(); gb.deallocate(); ga.deallocate(); xi.deallocate() }
                for c in range {
                    let p0 = c * C, cw = min(C, s.particles - p0)
                    let data = MFLDShape(batch: q.dataTerm ? s.batch : 0, d: s.d, particles: s.particles)
                    CPUBackend.particleGradients(data, unit: unit, unitScale: R, X: X, c: Cf, P: P, p0: p0, cw: cw,
                                                 z: z, gw: gw, gb: gb, ga: ga)
                    generator.fill(UnsafeMutableBufferPointer(start: xi, count: cw * D), offset: q.offset + UInt64(p0 * D),
                                   stream: RandomStream.langevinNoise.rawValue, step: q.step, distribution: .normal, scale: 1)
                    for r in 0..<cw {
                        let row = P + (p0 + r) * D
                        for k in 0..<D {
                            var g = k < s.d ? gw[r * s.d + k] : (k == s.d ? gb[r] : ga[r])
                            if let E { g += E[(p0 + r) * D + k] }
                            row[k] = row[k] - lr * (g + decay * row[k]) + noise * xi[r * D + k]
                        }
                    }
                }
            }
        }
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func mfldGradient<T: Scalar>(_ s: MFLDShape, unit: ParticleUnit, unitScale: T, x: any DeviceBuffer,
                                        coefficients: any DeviceBuffer, particles: any DeviceBuffer, gradient: any DeviceBuffer,
                                        scale: T, accumulate: Bool) throws {
        let X = host(x).pointer(T.self), Cf = host(coefficients).pointer(T.self), P = host(particles).pointer(T.self)
        let G = host(gradient).pointer(T.self)
        let D = s.coordinates, C = CPUBackend.particleChunk, chunks = (s.particles + C - 1) / C
        BLAS.singleThreaded {
            parallelRanges(chunks) { _, range in
                let z = UnsafeMutablePointer<T>.allocate(capacity: s.batch * C + 1)
                let gw = UnsafeMutablePointer<T>.allocate(capacity: C * max(s.d, 2))   // also the units' outer factors
                let gb = UnsafeMutablePointer<T>.allocate(capacity: C), ga = UnsafeMutablePointer<T>.allocate(capacity: C)
                defer { z.deallocate(); gw.deallocate(); gb.deallocate(); ga.deallocate() }
                for c in range {
                    let p0 = c * C, cw = min(C, s.particles - p0)
                    CPUBackend.particleGradients(s, unit: unit, unitScale: unitScale, X: X, c: Cf, P: P, p0: p0, cw: cw,
                                                 z: z, gw: gw, gb: gb, ga: ga)
                    for r in 0..<cw {
                        for k in 0..<D {
                            let g = scale * (k < s.d ? gw[r * s.d + k] : (k == s.d ? gb[r] : ga[r]))
                            let q = (p0 + r) * D + k
                            G[q] = accumulate ? G[q] + g : g
                        }
                    }
                }
            }
        }
    }
}
