import ArgumentParser
import Foundation
import WideNet

extension GramEigensolver: ExpressibleByArgument {}
extension GramMatrixMode: ExpressibleByArgument {}

struct GramCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gram",
        abstract: "The infinite-width NTK Gram matrix H∞, its eigenvalues and λ0; with --width also H(0).",
        discussion: """
            H∞_ij = x_iᵀx_j (π − arccos(x_iᵀx_j)) / (2π) on unit-norm inputs; writes gram_inf.npy and \
            gram_inf_eigenvalues.npy. With --width m the empirical H(0) of a random net of width m \
            (gram_0.npy) and ‖H(0) − H∞‖; with --weights W.npy the same for the net of those hidden \
            weights (a trained net's H(t), from the masks 1[w_rᵀx_i ≥ 0]).

            At dataset scale (--eigensolver lanczos, the default above n = 4096) only the few smallest \
            eigenvalues are computed, by block Lanczos: on H∞⁻¹ through a Cholesky factorisation when \
            H∞ is stored, on H∞ itself when it is matrix-free (--matrix free: each product recomputes \
            tiles of H∞ from X, so memory grows like n, not n²). λ0 comes with a certified error \
            (summary.json lambda0_error): the residual plus the rounding bounds, and in stored mode a \
            second Cholesky proving that no eigenvalue lies below. gram_inf.npy is then not written; \
            the smallest eigenvalues and eigenvectors are. With --width the empirical H(0) is applied \
            from tiles of the packed masks. A size that fits neither mode is refused, naming the \
            largest n of each.

            Examples:
              widenet gram --x X.npy
              widenet gram --n 128 --d 8 --width 1048576 --seed 3
              widenet gram --x run/x.npy --weights run/w.npy       (H(t) of a train run with --save-weights)
              widenet gram --n 20000 --d 16 --eigensolver lanczos
              widenet gram --n 50000 --d 16 --matrix free --eigenvalues 4
            """)

    @Option(help: "Inputs, n×d .npy (rows are scaled to unit norm).") var x: String?
    @Option(help: "Samples of synthetic unit-sphere data (default 64).") var n: Int?
    @Option(help: "Input dimension of synthetic data (default 16).") var d: Int?
    @Option(help: "Width of a random net whose H(0) is compared with H∞.") var width: Int?
    @Option(help: "Seed of data and weights.") var seed: UInt64 = 0
    @Option(help: .hidden) var kappa: Double = 1
    @Option(help: ArgumentHelp("Hidden weights w, m×d .npy (a train run's w.npy from --save-weights): the empirical kernel H(t) of that net "
                               + "in place of a random net's H(0); sets the width.", valueName: "W.npy")) var weights: String?
    @Option(help: "full (every eigenvalue, LAPACK), lanczos (the few smallest, certified) or auto (full up to n = 4096, unless a Lanczos option below is given).")
    var eigensolver: GramEigensolver = .auto
    @Option(help: "Where H∞ lives for Lanczos: stored (n×n), free (tiles recomputed in each product) or auto (stored if it fits).")
    var matrix: GramMatrixMode = .auto
    @Option(help: "Lanczos: how many of the smallest eigenvalues to compute (default 6).") var eigenvalues: Int?
    @Option(help: "Lanczos: stop when every residual ‖Hy − θy‖ is at most this times θ (default 1e-10); matrix-free, also once it is under a tenth of the products' rounding bound.") var tolerance: Double?
    @Option(name: .customLong("max-dimension"), help: "Lanczos: the largest Krylov space (default 1024 vectors).") var maxDimension: Int?
    @Option(help: "Lanczos: vectors per block (default 8 stored, 16 matrix-free: each pass over the tiles serves the block).") var block: Int?
    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if !(kappa > 0 && kappa.isFinite) { throw BackendError("--kappa must be a positive number (got \(kappa))") }
        if RunControlOptions.onCommandLine("--kappa") {
            if weights != nil { throw ValidationError("--kappa scales sampled hidden weights; it does not apply with --weights, which gives them") }
            throw ValidationError("--kappa does not change H(0) or H∞: the masks 1[w_rᵀx_i ≥ 0] do not depend on the scale of w (ReLU is positively homogeneous)")
        }
        if eigensolver == .full {
            if matrix == .free { throw ValidationError("--matrix free conflicts with --eigensolver full: a full decomposition needs the stored matrix") }
            for (name, given) in [("--eigenvalues", eigenvalues != nil), ("--tolerance", tolerance != nil), ("--max-dimension", maxDimension != nil),
                                  ("--block", block != nil)] where given {
                throw ValidationError("\(name) conflicts with --eigensolver full: it sets the Lanczos eigensolver")
            }
        }
        if matrix == .stored && deviceOptions.backend == .opencl && width == nil { throw ValidationError(GramMatrixMode.storedOnOpenCL) }
        if let k = eigenvalues, k < 1 { throw BackendError("--eigenvalues must be at least 1 (got \(k))") }
        if let b = block, b < 1 { throw BackendError("--block must be at least 1 (got \(b))") }
        if let t = tolerance, !(t > 0 && t < 1) { throw BackendError("--tolerance must be in (0, 1) (got \(t))") }
        if let m = maxDimension, m < max(eigenvalues ?? 6, 2) {
            throw BackendError("--max-dimension \(m) must be at least --eigenvalues (\(eigenvalues ?? 6)) and 2")
        }
    }

    func run() throws {
        try reportingErrors(splitsOverRanks: true) {
            var cfg = GramExperiment.Config()
            cfg.xPath = x; cfg.n = n; cfg.d = d; cfg.width = width; cfg.seed = seed; cfg.kappa = kappa; cfg.weightsPath = weights
            cfg.eigensolver = eigensolver; cfg.matrix = matrix; cfg.eigenvalues = eigenvalues; cfg.tolerance = tolerance
            cfg.maxDimension = maxDimension; cfg.block = block
            // An option only Lanczos reads asks for Lanczos (auto would otherwise pick full at small n and ignore it).
            if eigensolver == .auto && (eigenvalues != nil || tolerance != nil || maxDimension != nil || block != nil || matrix != .auto) {
                cfg.eigensolver = .lanczos
            }
            cfg.quiet = output.quiet
            cfg.backend = try deviceOptions.resolvedBackend(); cfg.device = deviceOptions.resolvedDevice
            cfg.precision = deviceOptions.precision; cfg.out = output.out
            let result = try GramExperiment.run(cfg)
            guard Job.isLeader else { return }   // rank 0 alone wrote the run directory and reports
            output.finish(result.summary, directory: result.directory, notes: result.notes) {
                printSummaryTable(result.summary)
            }
        }
    }
}
