import Foundation
import RealModule

/// Storage precision of a run. f64 needs cl_khr_fp64 on an OpenCL device.
public enum Precision: String, Sendable, CaseIterable, Codable {
    case f32, f64
    public var bytes: Int { self == .f32 ? 4 : 8 }
}

/// The floating-point types a run can use (Float, Double).
public protocol Scalar: BinaryFloatingPoint, Real, SIMDScalar, MaskRowKernels, ElementKernels, UnitRowKernels, Codable, Sendable, BitwiseCopyable {
    static var precision: Precision { get }
}
extension Float: Scalar { public static var precision: Precision { .f32 } }
extension Double: Scalar { public static var precision: Precision { .f64 } }

/// Memory owned by one backend; it releases itself when the last reference goes.
public protocol DeviceBuffer: AnyObject {
    var byteCount: Int { get }
}

/// What a backend runs on, for config.json, `widenet devices` and the memory preflight.
public struct BackendInfo: Sendable, Codable {
    public var kind: String           // "cpu" or "opencl"
    public var deviceName: String
    public var deviceIndex: Int?      // OpenCL device index
    public var driver: String
    public var globalMemBytes: Int
    public var maxAllocBytes: Int
    public var supportsF64: Bool
    public var isGPU: Bool
}

/// Row-major C = α·op(A)·op(B) + β·C with op(A) m×k, op(B) k×n and natural leading dimensions
/// (A is m×k, or k×m when transposed; likewise B).
public struct GEMMShape: Hashable, Sendable {
    public var transA: Bool, transB: Bool
    public var m: Int, n: Int, k: Int
    public init(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int) {
        self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k
    }
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// One block of width of the two-layer NTK net: n samples of dimension d, `width` neurons.
/// Masks are bit-packed: bit (r mod 32) of word [i * words + r / 32] is S_ir = 1{w_rᵀx_i ≥ 0}.
public struct NTKBlockShape: Hashable, Sendable {
    public var n: Int, d: Int, width: Int
    public init(n: Int, d: Int, width: Int) { self.n = n; self.d = d; self.width = width }
    public var words: Int { (width + 31) / 32 }
    public var maskWords: Int { n * words }
}

/// The unit h(θ, x) of a mean-field particle θ = (w, b, a) (ARCHITECTURE.md §1.2).
public enum ParticleUnit: String, Sendable, CaseIterable, Codable {
    case tanh      // a·tanh(wᵀx + b)
    case relu      // a·relu(wᵀx + b)
    case bounded   // R·tanh(a)·tanh(wᵀx + b), the unit the convergence theory assumes
    var code: Int { self == .tanh ? 0 : self == .relu ? 1 : 2 }
}

/// One block of mean-field particles against a batch: B samples of dimension d, N particles of
/// D = d + 2 coordinates (rows w_1..w_d, b, a).
public struct MFLDShape: Hashable, Sendable {
    public var batch: Int, d: Int, particles: Int
    public init(batch: Int, d: Int, particles: Int) { self.batch = batch; self.d = d; self.particles = particles }
    public var coordinates: Int { d + 2 }
}

/// The scalars of one noisy gradient step: θ ← θ − lr·(g + decay·θ) + noise·ξ with
/// decay = 2λ', noise = √(2λη), ξ the Philox normals of element offset + i·D + q of stream 3 at `step`.
public struct MFLDStepParameters: Sendable {
    public var learningRate: Double, decay: Double, noise: Double
    public var dataTerm: Bool
    public var seed: UInt64, step: UInt32, offset: UInt64
    public var unitScale: Double
    public init(learningRate: Double, decay: Double, noise: Double, dataTerm: Bool, seed: UInt64, step: UInt32,
                offset: UInt64, unitScale: Double) {
        self.learningRate = learningRate; self.decay = decay; self.noise = noise; self.dataTerm = dataTerm
        self.seed = seed; self.step = step; self.offset = offset; self.unitScale = unitScale
    }
}

/// Where a block's initial hidden weights w0 come from when its movement is measured.
public enum InitialWeights {
    /// A copy kept on the device (weights that were given as arrays).
    case stored(any DeviceBuffer)
    /// Regenerated on the fly: w0 element j of the block is the Philox normal of element
    /// offset + j of the hidden-weight stream of `seed`, times `scale`. Costs no memory, which
    /// is what lets the largest widths fit.
    case philox(seed: UInt64, offset: UInt64, scale: Double)
}

/// Diagnostics of one block against its initial state.
public struct NTKBlockDiagnostics: Sendable {
    /// max_r ‖w_r − w_r(0)‖² over the block.
    public var maxMoveSquared: Double
    /// Number of (i, r) whose activation differs from the initial one.
    public var flips: Int
}

/// The operations every model is written against: the core (memory, GEMM, random numbers,
/// reductions) and one protocol per kernel family (NTKKernels, GramKernels, MFLDKernels, ResidualKernels), each
/// operation with the CPU implementation as the reference and an OpenCL twin (the same file names
/// under CPU/ and OpenCL/).
public protocol Backend: BackendCore, NTKKernels, GramKernels, MFLDKernels, ResidualKernels {}

/// Memory, GEMM, random numbers and reductions: what every kernel family builds on.
public protocol BackendCore: AnyObject {
    var info: BackendInfo { get }

    func allocate(bytes: Int) throws -> any DeviceBuffer
    func upload<T: BitwiseCopyable>(_ values: [T], to buffer: any DeviceBuffer) throws
    func download<T: BitwiseCopyable>(_ buffer: any DeviceBuffer, count: Int, as: T.Type) throws -> [T]
    /// Copies `bytes` bytes from the start of `source` to the start of `destination`.
    func copy(_ source: any DeviceBuffer, to destination: any DeviceBuffer, bytes: Int) throws

    /// C = α·op(A)·op(B) + β·C.
    func gemm<T: Scalar>(_ shape: GEMMShape, _ a: any DeviceBuffer, _ b: any DeviceBuffer, _ c: any DeviceBuffer,
                         alpha: T, beta: T) throws

    /// out[i] = Philox value of element offset + i of (stream, step), i < count (see Philox.swift).
    func fillRandom<T: Scalar>(_ out: any DeviceBuffer, count: Int, offset: UInt64, seed: UInt64,
                               stream: UInt32, step: UInt32, distribution: RandomDistribution, scale: T) throws

    /// mean[q] ← mean[q] + weight·(x[q] − mean[q]) for q < count: one term of a running average
    /// (weight 1/k at the k-th, so mean = (1/k) Σ_{j≤k} x_j); the rest of `mean` is left alone.
    func runningMean<T: Scalar>(_ mean: any DeviceBuffer, toward x: any DeviceBuffer, count: Int, weight: T) throws

    /// Σ x² over the first `count` values (deterministic).
    func sumSquares<T: Scalar>(_ buffer: any DeviceBuffer, count: Int, as: T.Type) throws -> Double

    /// Waits for queued work (a no-op on the CPU).
    func synchronize() throws

    /// Seconds spent compiling kernels so far, reported apart from run time (0 where nothing is compiled).
    var buildSeconds: Double { get }
    /// Whether the backend's buffers are host memory, so that host code may compute on them in place.
    var computesOnHost: Bool { get }
}

/// What a backend without compiled kernels (the CPU) has.
extension BackendCore {
    public var buildSeconds: Double { 0 }
    public var computesOnHost: Bool { false }
}

/// Errors that name the problem in one line.
public struct BackendError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let failureClass: FailureClass
    public init(_ description: String, _ failureClass: FailureClass = .badInput) {
        self.description = description; self.failureClass = failureClass
    }
    /// The machine lacks what the run needs (memory, a device, a feature).
    public static func resources(_ description: String) -> BackendError { BackendError(description, .resources) }
}
