import Foundation

/// The trainable residual network of `widenet resnet --experiment train` (ARCHITECTURE.md §1.4):
///
///     x_0 = E x                                  (D×d₀ embedding)
///     x_{l+1} = x_l + h·V_l σ(U_l x_l + c_l)      (L blocks of width m, h = T/L: forward Euler)
///     or, LM-ResNet (`lm`), x_{l+1} = (1 − k_l)x_l + k_l x_{l−1} + h·V_l σ(U_l x_l + c_l) for l ≥ 1
///     with trained k_l ∈ [−0.99, 1] (x_1 by Euler), or Heun (`heun`, RK2/FractalNet):
///     x̃ = x_l + hF_l(x_l), x_{l+1} = x_l + (h/2)(F_l(x_l) + F_l(x̃)) with the block's one F_l, or
///     Euler–Maruyama (`euler-maruyama`, stochastic depth): the Euler block plus σΔW_l in training passes,
///     ΔW_l ~ N(0, hI) from Philox (stream residualNoise, step = the update's number, so a resumed run
///     draws the same), none in evaluation (the map's mean); the noise is additive, so the backward is Euler's;
///     or backward Euler (`backward-euler`, PolyNet): x_{l+1} = y with y = x_l + hF_l(y) by fixed-point iteration,
///     or RevNet (`revnet`, ResidualNet+RevNet.swift): x = (y, z) halves, y ← y + hP_yF_l((0, z)), then
///     z ← z + hP_zF_l((y, 0)) with the new y (Euler on the coupled system, invertible block by block)
///     f(x) = wᵀx_L + b,   loss ½·mean_p (f(x_p) − y_p)²
///
/// Points are rows (the batch X is P×d₀, the states P×D), so each block is two GEMMs and the fused
/// bias-and-activation forward, four GEMMs and the fused σ′ backward; the updates are one
/// parameter_step per tensor. Everything stays on the backend; only the P outputs come to the host
/// for the loss and its residual goes back. Parameters are tensors in a fixed order: E, then
/// (U_l, c_l, V_l) per block, then w and b, and for lm the L values k_l (k_0 unused).
public final class ResidualNet<T: Scalar> {
    public struct Shape: Sendable, Hashable, Codable {
        public var inputs: Int, dim: Int, width: Int, depth: Int
        /// euler, lm, heun, euler-maruyama, backward-euler or revnet.
        public var scheme: ResidualScheme
        public var lm: Bool { scheme == .lm }
        public var heun: Bool { scheme == .heun }
        public var implicit: Bool { scheme == .backwardEuler }
        public var revnet: Bool { scheme == .revnet }
        /// Schemes with a second evaluation per block kept for the backward (x̃ or the half-step state, Z₂, A₂).
        var twoStage: Bool { heun || revnet }
        public init(inputs: Int, dim: Int, width: Int, depth: Int, scheme: ResidualScheme = .euler) {
            precondition(scheme != .revnet || dim % 2 == 0, "ResidualNet: revnet splits the state into halves (an even dim)")
            self.inputs = inputs; self.dim = dim; self.width = width; self.depth = depth; self.scheme = scheme
        }

        /// Values per tensor, in the parameters' order.
        public var counts: [Int] {
            [dim * inputs] + (0..<depth).flatMap { _ in [width * dim, width, dim * width] } + [dim, 1] + (lm ? [depth] : [])
        }
        public var parameterCount: Int { dim * inputs + depth * (2 * width * dim + width) + dim + 1 + (lm ? depth : 0) }
        /// Names of the tensors, for arrays and messages.
        public var names: [String] {
            ["E"] + (0..<depth).flatMap { ["U\($0)", "c\($0)", "V\($0)"] } + ["w", "b"] + (lm ? ["k"] : [])
        }
        /// Values a batch of P points keeps on the device: X, the L + 1 states, the L pre-activations and
        /// hidden values, and the backward's scratch.
        public func batchValues(points p: Int) -> Int {
            p * inputs + (depth + 1) * p * dim + 2 * depth * p * width + p * dim + p * width + 3 * p
                + (twoStage ? depth * p * (dim + 2 * width) : 0) + (lm || twoStage || implicit ? 2 * p * dim : 0) + (implicit || revnet ? 2 * p * dim : 0)
        }

        /// parameterCount and batchValues in floating point, for the memory preflights of sizes
        /// whose counts would overflow an Int (nothing is allocated).
        public var parameterEstimate: Double {
            let (d0, D, m, L) = (Double(inputs), Double(dim), Double(width), Double(depth))
            return D * d0 + L * (2 * m * D + m) + D + 1 + (lm ? L : 0)
        }
        public func batchEstimate(points: Double) -> Double {
            let (p, d0, D, m, L) = (points, Double(inputs), Double(dim), Double(width), Double(depth))
            return p * d0 + (L + 1) * p * D + 2 * L * p * m + p * D + p * m + 3 * p
                + (twoStage ? L * p * (D + 2 * m) : 0) + (lm || twoStage || implicit ? 2 * p * D : 0) + (implicit || revnet ? 2 * p * D : 0)
        }
    }

    /// Device buffers of one batch: inputs, every state and block activation (kept for the backward).
    final class Batch {
        let points: Int
        let x: any DeviceBuffer
        let states: [any DeviceBuffer], z: [any DeviceBuffer], a: [any DeviceBuffer]
        /// heun: each block's predictor x̃ and its pre-activations and hidden values there; revnet: the state
        /// after the y half-step and the z half-step's pre-activations and hidden values.
        let tilde: [any DeviceBuffer], z2: [any DeviceBuffer], a2: [any DeviceBuffer]
        /// backward-euler: two P×D buffers for the fixed-point iterations (the next iterate, the change);
        /// revnet: a projected state and a half-step's output.
        let scratch: [any DeviceBuffer]
        let out: any DeviceBuffer
        init(_ backend: any Backend, shape s: Shape, x values: [Double], points p: Int) throws {
            let size = MemoryLayout<T>.stride
            points = p
            x = try backend.allocate(bytes: max(1, p * s.inputs) * size)
            try backend.upload(values.map { T($0) }, to: x)
            states = try (0...s.depth).map { _ in try backend.allocate(bytes: max(1, p * s.dim) * size) }
            z = try (0..<s.depth).map { _ in try backend.allocate(bytes: max(1, p * s.width) * size) }
            a = try (0..<s.depth).map { _ in try backend.allocate(bytes: max(1, p * s.width) * size) }
            let blocks = s.twoStage ? s.depth : 0
            tilde = try (0..<blocks).map { _ in try backend.allocate(bytes: max(1, p * s.dim) * size) }
            z2 = try (0..<blocks).map { _ in try backend.allocate(bytes: max(1, p * s.width) * size) }
            a2 = try (0..<blocks).map { _ in try backend.allocate(bytes: max(1, p * s.width) * size) }
            scratch = try (0..<(s.implicit || s.revnet ? 2 : 0)).map { _ in try backend.allocate(bytes: max(1, p * s.dim) * size) }
            out = try backend.allocate(bytes: max(1, p) * size)
        }
    }

    public let shape: Shape, backend: any Backend, activation: Activation
    /// The step h = T/L.
    public let h: Double
    var theta: [any DeviceBuffer], grad: [any DeviceBuffer], first: [any DeviceBuffer], second: [any DeviceBuffer]
    /// Updates made so far (Adam's t).
    public internal(set) var updates = 0
    let train: Batch
    // The backward's scratch: ∂loss/∂x_l (P×D), the block's δ (P×m), the residual (P) and ones (P).
    let g: any DeviceBuffer, delta: any DeviceBuffer, residual: any DeviceBuffer, ones: any DeviceBuffer
    // lm: two more gradients of states (g_{l+2} and the next g_l) and a scalar for dot products.
    let gPrevious: (any DeviceBuffer)?, gNext: (any DeviceBuffer)?, scalar: any DeviceBuffer
    /// lm: the k_l of the current parameters (read once per forward pass).
    var k: [Double] = []
    /// backward-euler: the fixed-point iterations' relative tolerance on ‖change‖ and their limit, per
    /// block, in the forward pass and in the backward's adjoint solve.
    public var tolerance = T.precision == .f32 ? 1e-6 : 1e-12, maxIterations = 200
    /// euler-maruyama: σ, the seed of the increments, and their buffer (P×D).
    public var noise = 0.0, noiseSeed: UInt64 = 0
    let increment: (any DeviceBuffer)?
    /// revnet: the projections P_y = diag(1, …, 1, 0, …, 0) and P_z = I − P_y (D×D) onto the halves.
    let projections: [any DeviceBuffer]

    public init(backend: any Backend, shape s: Shape, horizon: Double, activation: Activation, x: [Double], points p: Int,
                parameters: [[Double]]) throws {
        precondition(x.count == p * s.inputs && parameters.map(\.count) == s.counts, "ResidualNet: shapes differ")
        self.backend = backend; shape = s; self.activation = activation
        h = horizon / Double(s.depth)
        let size = MemoryLayout<T>.stride
        func buffers(_ values: [[Double]]?) throws -> [any DeviceBuffer] {
            try s.counts.enumerated().map { i, c in
                let b = try backend.allocate(bytes: c * size)
                try backend.upload(values?[i].map { T($0) } ?? [T](repeating: 0, count: c), to: b)
                return b
            }
        }
        theta = try buffers(parameters); grad = try buffers(nil); first = try buffers(nil); second = try buffers(nil)
        train = try Batch(backend, shape: s, x: x, points: p)
        g = try backend.allocate(bytes: max(1, p * s.dim) * size)
        delta = try backend.allocate(bytes: max(1, p * s.width) * size)
        residual = try backend.allocate(bytes: max(1, p) * size)
        ones = try backend.allocate(bytes: max(1, p) * size)
        try backend.upload([T](repeating: 1, count: p), to: ones)
        gPrevious = s.lm || s.twoStage || s.implicit ? try backend.allocate(bytes: max(1, p * s.dim) * size) : nil
        gNext = s.lm || s.twoStage || s.implicit ? try backend.allocate(bytes: max(1, p * s.dim) * size) : nil
        scalar = try backend.allocate(bytes: size)
        increment = s.scheme == .eulerMaruyama ? try backend.allocate(bytes: max(1, p * s.dim) * size) : nil
        projections = try (s.revnet ? [true, false] : []).map { first in
            let b = try backend.allocate(bytes: s.dim * s.dim * size)
            try backend.upload((0..<(s.dim * s.dim)).map { i in T(i % (s.dim + 1) == 0 && (i / s.dim < s.dim / 2) == first ? 1 : 0) }, to: b)
            return b
        }
    }

    var kIndex: Int { readout + 2 }
    /// Tensors that belong to the blocks (their gd step is η/h).
    func isBlockTensor(_ i: Int) -> Bool { (i > 0 && i < readout) || (shape.lm && i == kIndex) }

    /// ⟨a, b⟩ over count values, by a 1×1 GEMM.
    func dot(_ a: any DeviceBuffer, _ b: any DeviceBuffer, count: Int) throws -> Double {
        try backend.gemm(GEMMShape(m: 1, n: 1, k: count), a, b, scalar, alpha: T(1), beta: T(0))
        return Double(try backend.download(scalar, count: 1, as: T.self)[0])
    }

    func index(_ block: Int, _ part: Int) -> Int { 1 + 3 * block + part }
    var readout: Int { 1 + 3 * shape.depth }

    /// A batch of other points (the test set, a probe grid) for `outputs(of:)`.
    func batch(_ x: [Double], points p: Int) throws -> Batch { try Batch(backend, shape: shape, x: x, points: p) }

    /// The forward pass over a batch; returns f(x_p) for its points. `noisy`: euler-maruyama's
    /// increments of the coming update (training passes only, and only on the training batch).
    func forward(_ b: Batch, noisy: Bool = false) throws -> [Double] {
        let s = shape, P = b.points
        guard P > 0 else { return [] }
        try backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.inputs), b.x, theta[0], b.states[0], alpha: T(1), beta: T(0))
        if s.lm { k = try backend.download(theta[kIndex], count: s.depth, as: T.self).map(Double.init) }
        for l in 0..<s.depth {
            if s.revnet { try revnetBlock(l, b); continue }
            try backend.gemm(GEMMShape(transB: true, m: P, n: s.width, k: s.dim), b.states[l], theta[index(l, 0)], b.z[l], alpha: T(1), beta: T(0))
            try backend.biasActivation(b.z[l], bias: theta[index(l, 1)], activations: b.a[l], rows: P, columns: s.width, activation: activation,
                                       as: T.self)
            if s.heun {
                let (u, v, bytes) = (theta[index(l, 0)], theta[index(l, 2)], P * s.dim * MemoryLayout<T>.stride)
                try backend.copy(b.states[l], to: b.tilde[l], bytes: bytes)
                try backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.width), b.a[l], v, b.tilde[l], alpha: T(h), beta: T(1))
                try backend.gemm(GEMMShape(transB: true, m: P, n: s.width, k: s.dim), b.tilde[l], u, b.z2[l], alpha: T(1), beta: T(0))
                try backend.biasActivation(b.z2[l], bias: theta[index(l, 1)], activations: b.a2[l], rows: P, columns: s.width,
                                           activation: activation, as: T.self)
                try backend.copy(b.states[l], to: b.states[l + 1], bytes: bytes)
                try backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.width), b.a[l], v, b.states[l + 1], alpha: T(h / 2), beta: T(1))
                try backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.width), b.a2[l], v, b.states[l + 1], alpha: T(h / 2), beta: T(1))
                continue
            }
            if s.implicit { try implicitBlock(l, b); continue }
            try backend.copy(b.states[l], to: b.states[l + 1], bytes: P * s.dim * MemoryLayout<T>.stride)
            if s.lm && l >= 1 { try backend.axpby(T(k[l]), b.states[l - 1], T(1 - k[l]), b.states[l + 1], count: P * s.dim) }
            try backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.width), b.a[l], theta[index(l, 2)], b.states[l + 1],
                             alpha: T(h), beta: T(1))
            if noisy, let dw = increment, noise > 0, b === train {
                try backend.fillRandom(dw, count: P * s.dim, offset: UInt64(l * P * s.dim), seed: noiseSeed,
                                       stream: RandomStream.residualNoise.rawValue, step: UInt32(truncatingIfNeeded: updates),
                                       distribution: .normal, scale: T(noise * h.squareRoot()))
                try backend.axpby(T(1), dw, T(1), b.states[l + 1], count: P * s.dim)
            }
        }
        try backend.gemm(GEMMShape(m: P, n: 1, k: s.dim), b.states[s.depth], theta[readout], b.out, alpha: T(1), beta: T(0))
        let bias = Double(try backend.download(theta[readout + 1], count: 1, as: T.self)[0])
        return try backend.download(b.out, count: P, as: T.self).map { Double($0) + bias }
    }

    /// The outputs on the training points, after a forward pass.
    public func outputs(noisy: Bool = false) throws -> [Double] { try forward(train, noisy: noisy) }

    /// ½·mean (f − y)² of outputs f.
    public static func loss(_ f: [Double], _ y: [Double]) -> Double {
        guard !f.isEmpty else { return 0 }
        return zip(f, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / (2 * Double(f.count))
    }

    /// The gradient of the loss on the training batch into `grad`, from the forward pass that gave `f`.
    func backward(outputs f: [Double], labels y: [Double]) throws {
        let s = shape, P = train.points, b = train
        let r = (0..<P).map { (f[$0] - y[$0]) / Double(P) }
        try backend.upload(r.map { T($0) }, to: residual)
        try backend.gemm(GEMMShape(transA: true, m: s.dim, n: 1, k: P), b.states[s.depth], residual, grad[readout], alpha: T(1), beta: T(0))
        try backend.upload([T(r.reduce(0, +))], to: grad[readout + 1])
        try backend.gemm(GEMMShape(m: P, n: s.dim, k: 1), residual, theta[readout], g, alpha: T(1), beta: T(0))
        if s.lm { return try backwardLM() }
        if s.heun { return try backwardHeun() }
        if s.implicit { return try backwardImplicit() }
        if s.revnet { return try backwardRevNet() }
        for l in stride(from: s.depth - 1, through: 0, by: -1) {
            try blockGradients(l, from: g)
            try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.width), delta, theta[index(l, 0)], g, alpha: T(1), beta: T(1))
        }
        try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.inputs, k: P), g, b.x, grad[0], alpha: T(1), beta: T(0))
    }

    /// Block l's gradients from G = ∂loss/∂x_{l+1}: ∂V_l = h·GᵀA_l, δ = h·(GV_l) ⊙ σ′(Z_l) (left in
    /// `delta` for the state's gradient), ∂c_l = δᵀ1, ∂U_l = δᵀ(input), the block's input x_l unless given.
    /// `second`: at the block's second evaluation (Z₂, A₂); `accumulate`: added to the gradients there.
    func blockGradients(_ l: Int, from gradient: any DeviceBuffer, at input: (any DeviceBuffer)? = nil, second: Bool = false,
                        accumulate: Bool = false) throws {
        let s = shape, P = train.points, b = train, beta = T(accumulate ? 1 : 0)
        let (u, c, v) = (index(l, 0), index(l, 1), index(l, 2))
        let (z, a) = second ? (b.z2[l], b.a2[l]) : (b.z[l], b.a[l])
        try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.width, k: P), gradient, a, grad[v], alpha: T(h), beta: beta)
        try backend.gemm(GEMMShape(m: P, n: s.width, k: s.dim), gradient, theta[v], delta, alpha: T(1), beta: T(0))
        try backend.activationBackward(delta, preactivations: z, activations: a, count: P * s.width, scale: T(h), activation: activation)
        try backend.gemm(GEMMShape(transA: true, m: s.width, n: 1, k: P), delta, ones, grad[c], alpha: T(1), beta: beta)
        try backend.gemm(GEMMShape(transA: true, m: s.width, n: s.dim, k: P), delta, input ?? b.states[l], grad[u], alpha: T(1), beta: beta)
    }

    /// Iterates u ← f(u) from u = `start` until ‖f(u) − u‖ ≤ tolerance·(‖u‖ + 1), leaving the last
    /// iterate in `start`; `next` holds f(u), `change` the difference. Throws naming the block when it
    /// does not converge in maxIterations (it converges when h·Lip(F) < 1).
    func fixedPoint(_ start: any DeviceBuffer, next: any DeviceBuffer, change: any DeviceBuffer, count: Int, block l: Int, what: String,
                    _ f: (_ u: any DeviceBuffer, _ into: any DeviceBuffer) throws -> Void) throws {
        let bytes = count * MemoryLayout<T>.stride
        var last = Double.infinity
        for _ in 0..<maxIterations {
            try f(start, next)
            try backend.copy(next, to: change, bytes: bytes)
            try backend.axpby(T(-1), start, T(1), change, count: count)
            last = try backend.sumSquares(change, count: count, as: T.self).squareRoot()
            let size = try backend.sumSquares(next, count: count, as: T.self).squareRoot()
            try backend.copy(next, to: start, bytes: bytes)
            if last <= tolerance * (size + 1) { return }
            if !last.isFinite { break }
        }
        throw BackendError("backward-euler: the \(what) fixed-point iteration of block \(l) (h = \(h)) did not converge in \(maxIterations) "
            + "iterations (last change \(last)); it converges when h·Lip(F) < 1: use more blocks (--depth), a shorter --horizon or a larger --max-iterations (now \(maxIterations))")
    }

    /// Backward Euler's block: x_{l+1} = y with y = x_l + hF_l(y), by fixed-point iteration from the Euler
    /// predictor; Z_l and A_l are left at y (the backward's linearisation point).
    func implicitBlock(_ l: Int, _ b: Batch) throws {
        let s = shape, P = b.points, (u, c, v) = (theta[index(l, 0)], theta[index(l, 1)], theta[index(l, 2)])
        guard b.scratch.count == 2 else { throw BackendError("backward-euler blocks run on batches made for them") }
        let bytes = P * s.dim * MemoryLayout<T>.stride
        try backend.copy(b.states[l], to: b.states[l + 1], bytes: bytes)
        try backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.width), b.a[l], v, b.states[l + 1], alpha: T(h), beta: T(1))
        let apply = { (y: any DeviceBuffer) throws in
            try self.backend.gemm(GEMMShape(transB: true, m: P, n: s.width, k: s.dim), y, u, b.z[l], alpha: T(1), beta: T(0))
            try self.backend.biasActivation(b.z[l], bias: c, activations: b.a[l], rows: P, columns: s.width, activation: self.activation, as: T.self)
        }
        try fixedPoint(b.states[l + 1], next: b.scratch[0], change: b.scratch[1], count: P * s.dim, block: l, what: "forward") { y, next in
            try apply(y)
            try self.backend.copy(b.states[l], to: next, bytes: bytes)
            try self.backend.gemm(GEMMShape(transB: true, m: P, n: s.dim, k: s.width), b.a[l], v, next, alpha: T(self.h), beta: T(1))
        }
        try apply(b.states[l + 1])
    }

    /// Backward Euler's backward pass: with G = g_{l+1} and J = ∂F_l/∂x at y = x_{l+1}, the adjoint
    /// λ = G + hJᵀλ (a fixed point, since y = x_l + hF_l(y)) gives ∂loss/∂x_l = λ and the block's
    /// gradients as Euler's at y with λ for G: ∂V_l = h·λᵀA_l, δ = h(λV_l) ⊙ σ′(Z_l), ∂c_l = δᵀ1, ∂U_l = δᵀy.
    func backwardImplicit() throws {
        let s = shape, P = train.points, b = train, bytes = P * s.dim * MemoryLayout<T>.stride
        guard let lambda = gNext, let next = gPrevious else { preconditionFailure("backward-euler buffers missing") }
        for l in stride(from: s.depth - 1, through: 0, by: -1) {
            let (u, v) = (theta[index(l, 0)], theta[index(l, 2)])
            try backend.copy(g, to: lambda, bytes: bytes)
            try fixedPoint(lambda, next: next, change: b.scratch[1], count: P * s.dim, block: l, what: "adjoint") { lam, into in
                try self.backend.gemm(GEMMShape(m: P, n: s.width, k: s.dim), lam, v, self.delta, alpha: T(1), beta: T(0))
                try self.backend.activationBackward(self.delta, preactivations: b.z[l], activations: b.a[l], count: P * s.width, scale: T(self.h),
                                                    activation: self.activation)
                try self.backend.copy(self.g, to: into, bytes: bytes)
                try self.backend.gemm(GEMMShape(m: P, n: s.dim, k: s.width), self.delta, u, into, alpha: T(1), beta: T(1))
            }
            try blockGradients(l, from: lambda, at: b.states[l + 1])
            try backend.copy(lambda, to: g, bytes: bytes)
        }
        try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.inputs, k: P), g, b.x, grad[0], alpha: T(1), beta: T(0))
    }

    /// Heun's backward pass, with G = g_{l+1} and w = h/2: through F(x̃), δ₂ = w·(GV) ⊙ σ′(Z₂) and
    /// g̃ = δ₂U; through F(x), G₁ = w·G + h·g̃ and δ₁ = (G₁V) ⊙ σ′(Z₁); then ∂V = w·GᵀA₂ + G₁ᵀA₁,
    /// ∂U = δ₂ᵀx̃ + δ₁ᵀx, ∂c = δ₂ᵀ1 + δ₁ᵀ1 and g_l = G + g̃ + δ₁U.
    func backwardHeun() throws {
        let s = shape, P = train.points, b = train, count = P * s.dim, w = h / 2
        guard let gt = gPrevious, let g1 = gNext else { preconditionFailure("heun buffers missing") }
        for l in stride(from: s.depth - 1, through: 0, by: -1) {
            let (u, c, v) = (theta[index(l, 0)], grad[index(l, 1)], theta[index(l, 2)])
            let (du, dv) = (grad[index(l, 0)], grad[index(l, 2)])
            try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.width, k: P), g, b.a2[l], dv, alpha: T(w), beta: T(0))
            try backend.gemm(GEMMShape(m: P, n: s.width, k: s.dim), g, v, delta, alpha: T(1), beta: T(0))
            try backend.activationBackward(delta, preactivations: b.z2[l], activations: b.a2[l], count: P * s.width, scale: T(w), activation: activation)
            try backend.gemm(GEMMShape(transA: true, m: s.width, n: 1, k: P), delta, ones, c, alpha: T(1), beta: T(0))
            try backend.gemm(GEMMShape(transA: true, m: s.width, n: s.dim, k: P), delta, b.tilde[l], du, alpha: T(1), beta: T(0))
            try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.width), delta, u, gt, alpha: T(1), beta: T(0))
            try backend.copy(g, to: g1, bytes: count * MemoryLayout<T>.stride)
            try backend.axpby(T(h), gt, T(w), g1, count: count)
            try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.width, k: P), g1, b.a[l], dv, alpha: T(1), beta: T(1))
            try backend.gemm(GEMMShape(m: P, n: s.width, k: s.dim), g1, v, delta, alpha: T(1), beta: T(0))
            try backend.activationBackward(delta, preactivations: b.z[l], activations: b.a[l], count: P * s.width, scale: T(1), activation: activation)
            try backend.gemm(GEMMShape(transA: true, m: s.width, n: 1, k: P), delta, ones, c, alpha: T(1), beta: T(1))
            try backend.gemm(GEMMShape(transA: true, m: s.width, n: s.dim, k: P), delta, b.states[l], du, alpha: T(1), beta: T(1))
            try backend.axpby(T(1), gt, T(1), g, count: count)
            try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.width), delta, u, g, alpha: T(1), beta: T(1))
        }
        try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.inputs, k: P), g, b.x, grad[0], alpha: T(1), beta: T(0))
    }

    /// The LM-ResNet's backward pass: g_l = c_l·g_{l+1} + δ_l U_l + k_{l+1}·g_{l+2}, with c_l = 1 − k_l
    /// (1 for the Euler step l = 0) and ∂k_l = ⟨x_{l−1} − x_l, g_{l+1}⟩; the state gradients rotate
    /// through three buffers (g starts as g_L).
    func backwardLM() throws {
        let s = shape, P = train.points, b = train, count = P * s.dim
        guard var gPrev = gPrevious, var gNew = gNext else { preconditionFailure("lm buffers missing") }
        var gCur = g
        var dk = [Double](repeating: 0, count: s.depth)
        for l in stride(from: s.depth - 1, through: 0, by: -1) {
            try blockGradients(l, from: gCur)
            if l >= 1 { dk[l] = try dot(b.states[l - 1], gCur, count: count) - dot(b.states[l], gCur, count: count) }
            try backend.copy(gCur, to: gNew, bytes: count * MemoryLayout<T>.stride)
            if l >= 1 { try backend.axpby(T(0), gCur, T(1 - k[l]), gNew, count: count) }
            try backend.gemm(GEMMShape(m: P, n: s.dim, k: s.width), delta, theta[index(l, 0)], gNew, alpha: T(1), beta: T(1))
            if l + 1 <= s.depth - 1 && l + 1 >= 1 { try backend.axpby(T(k[l + 1]), gPrev, T(1), gNew, count: count) }
            (gPrev, gCur, gNew) = (gCur, gNew, gPrev)
        }
        try backend.gemm(GEMMShape(transA: true, m: s.dim, n: s.inputs, k: P), gCur, b.x, grad[0], alpha: T(1), beta: T(0))
        try backend.upload(dk.map { T($0) }, to: grad[kIndex])
    }

    /// One update of every tensor by `rule` (its step is set from the updates made).
    public func step(_ rule: ParameterRule, labels y: [Double]) throws {
        let f = try outputs(noisy: true)
        try backward(outputs: f, labels: y)
        try apply(rule)
    }

    /// Moves every tensor by the gradient in `grad`. Under gd and momentum the blocks' step is η/h:
    /// a block's gradient carries a factor h, so a step of η would move f by O(η·h) and freeze the
    /// blocks as L grows; η/h moves it by O(η) at every depth (the depth limit of the training
    /// dynamics). Adam's steps do not scale with the gradient, so it keeps η throughout.
    func apply(_ rule: ParameterRule) throws {
        updates += 1
        var r = rule
        r.step = updates
        for (i, c) in shape.counts.enumerated() {
            var ri = r
            if rule.optimizer != .adam && isBlockTensor(i) { ri.learningRate = rule.learningRate / h }
            try backend.parameterStep(theta[i], gradient: grad[i], first: first[i], second: second[i], count: c, rule: ri, as: T.self)
        }
        // lm: k_l stays in [−0.99, 1], where the two-step is zero-stable.
        if shape.lm {
            let ks = try backend.download(theta[kIndex], count: shape.depth, as: T.self)
            let clamped = ks.map { min(max($0, T(-0.99)), T(1)) }
            if clamped != ks { try backend.upload(clamped, to: theta[kIndex]) }
        }
    }

    /// The gradient on the training points at the current parameters, per tensor.
    public func gradient(labels y: [Double], noisy: Bool = false) throws -> [[Double]] {
        try backward(outputs: try outputs(noisy: noisy), labels: y)
        return try download(grad)
    }

    func download(_ buffers: [any DeviceBuffer]) throws -> [[Double]] {
        try zip(buffers, shape.counts).map { try backend.download($0, count: $1, as: T.self).map(Double.init) }
    }

    /// The parameters per tensor (host f64 copies).
    public func parameters() throws -> [[Double]] { try download(theta) }

    /// Everything a continuation needs: the parameters, the optimiser's moments and the update count.
    public struct State: Sendable {
        public var theta: [[Double]], first: [[Double]], second: [[Double]], updates: Int
    }

    public func state() throws -> State { State(theta: try download(theta), first: try download(first), second: try download(second), updates: updates) }

    public func restore(_ st: State) throws {
        guard [st.theta, st.first, st.second].allSatisfy({ $0.map(\.count) == shape.counts }) else {
            throw WideNetIOError("the checkpoint's tensors do not match the net's shape")
        }
        for i in shape.counts.indices {
            try backend.upload(st.theta[i].map { T($0) }, to: theta[i])
            try backend.upload(st.first[i].map { T($0) }, to: first[i])
            try backend.upload(st.second[i].map { T($0) }, to: second[i])
        }
        updates = st.updates
    }

    /// The states x_0 … x_L of a batch after its forward pass ((L + 1) × P × D).
    func states(of b: Batch) throws -> [Double] {
        try b.states.flatMap { try backend.download($0, count: b.points * shape.dim, as: T.self).map(Double.init) }
    }

    /// Initial parameters: E = [I; 0] (the inputs in the first coordinates of the state, the rest 0)
    /// when D ≥ d₀, else Philox normals/√d₀; block l from the smooth field θ(t_l) of ResidualFlow
    /// (U, c, V linear in t, so that the depth limit starts as an ODE); w normals/√D, b = 0.
    public static func initialParameters(_ s: Shape, horizon: Double, seed: UInt64, lmK: Double = 0.5) -> [[Double]] {
        var e = [Double](repeating: 0, count: s.dim * s.inputs)
        if s.dim >= s.inputs {
            for k in 0..<s.inputs { e[k * s.inputs + k] = 1 }
        } else {
            e = PhiloxGenerator(seed: seed).array(count: s.dim * s.inputs, stream: RandomStream.residualReadout.rawValue, step: 1,
                                                  distribution: .normal, scale: 1 / Double(s.inputs).squareRoot())
        }
        let field = ResidualFlow(dim: s.dim, width: s.width, seed: seed)
        var out = [e]
        for l in 0..<s.depth {
            let b = field.block(at: Double(l) * horizon / Double(s.depth))
            out += [b.u, b.c, b.v]
        }
        out.append(PhiloxGenerator(seed: seed).array(count: s.dim, stream: RandomStream.residualReadout.rawValue, step: 0,
                                                     distribution: .normal, scale: 1 / Double(s.dim).squareRoot()))
        out.append([0])
        if s.lm { out.append([Double](repeating: lmK, count: s.depth)) }
        return out
    }
}
