import Foundation
import Testing
@testable import WideNet

/// `widenet gram` at dataset scale: the Lanczos λ0 and the few smallest eigenvalues against numpy's
/// eigh written from the definition (Tests/References/gram_scale.py), the certified error holding
/// numpy's value, the matrix-free product against the stored one, the mask tiles against the stored
/// counts, the preflight's refusal and conflicting options.
@Suite struct GramScaleTests {
    static func reference(x: URL, k: Int, masks: URL? = nil, weights: URL? = nil, out given: URL? = nil) throws -> [String: Any] {
        let out = given ?? x.deletingLastPathComponent().appendingPathComponent("reference-\(UUID().uuidString).json")
        let script = PrechangeFixtureTests.repository.appendingPathComponent("Tests/References/gram_scale.py").path
        let py = try NPYTests.python([script, x.path, String(k), out.path] + (masks.map { [$0.path] } ?? []) + (weights.map { ["--weights", $0.path] } ?? []))
        try #require(py.status == 0, "\(py.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
    }

    static func gram(_ args: [String], in out: URL) throws -> JSONObject {
        let r = try CLITests.run(["gram", "--quiet", "--out", out.path] + args)
        try #require(r.status == 0, "\(r.stderr)")
        return try RunFiles.object(in: out.appendingPathComponent("summary.json"), shown: out.path)
    }

    /// The smallest eigenvalues agree with numpy's, and numpy's λ0 lies within the certified error
    /// (and, stored, in the proven interval).
    static func expectAgreement(_ summary: JSONObject, _ ref: [String: Any], k: Int, certificate: String) throws {
        let want = try #require(ref["smallest"] as? [Double]), scale = try #require(ref["lambda_max"] as? Double)
        guard case .array(let got)? = summary["smallest_eigenvalues"] else { Issue.record("no smallest_eigenvalues"); return }
        try #require(got.count == k)
        for i in 0..<k {
            let g = try #require(got[i].doubleValue)
            // numpy's H differs by rounding: a few ulp of λ_max.
            #expect(abs(g - want[i]) <= 1e-13 * scale, "λ_\(i): \(g) against numpy's \(want[i])")
        }
        let l0 = try #require(summary["lambda0"]?.doubleValue), err = try #require(summary["lambda0_error"]?.doubleValue)
        #expect(summary["certificate"] == .string(certificate))
        #expect(abs(l0 - want[0]) <= err, "numpy's λ0 \(want[0]) is outside \(l0) ± \(err)")
        #expect(err < 1e-6 * l0, "the certified error \(err) is not small against λ0 = \(l0)")
        if certificate == "interval" {
            let lo = try #require(summary["lambda0_lower"]?.doubleValue), hi = try #require(summary["lambda0_upper"]?.doubleValue)
            #expect(lo <= want[0] && want[0] <= hi, "numpy's λ0 \(want[0]) outside [\(lo), \(hi)]")
        }
    }

    /// Unit-sphere data, stored (shift-invert Lanczos through Cholesky, certified by a second one).
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func storedLanczosMatchesNumpyOnTheSphere() throws {
        let dir = try CLITests.scratch()
        let (n, d) = (1000, 16)
        let x = dir.appendingPathComponent("X.npy")
        try NPY.write(SyntheticData.sphere(n: n, d: d, seed: 4).x, shape: [n, d], to: x)
        let summary = try Self.gram(["--n", "\(n)", "--d", "\(d)", "--seed", "4", "--eigensolver", "lanczos", "--matrix", "stored",
                                     "--eigenvalues", "5"], in: dir.appendingPathComponent("run"))
        #expect(summary["matrix"] == .string("stored"))
        try Self.expectAgreement(summary, try Self.reference(x: x, k: 5), k: 5, certificate: "interval")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/gram_inf.npy").path))
        let vectors = try NPY.read(dir.appendingPathComponent("run/gram_inf_smallest_eigenvectors.npy"))
        #expect(vectors.shape == [5, n])
    }

    /// A file of low-dimensional inputs (a denser bottom cluster), matrix-free: only an eigenvalue
    /// within the error is certified, and numpy's λ0 is within it.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func freeLanczosMatchesNumpyOnAFile() throws {
        let dir = try CLITests.scratch()
        var rng = TestRNG()
        let (n, d) = (500, 5)
        let x = dir.appendingPathComponent("X.npy")
        try NPY.write(rng.normals(n * d, as: Double.self).map { 3 * $0 }, shape: [n, d], to: x)
        let summary = try Self.gram(["--x", x.path, "--eigensolver", "lanczos", "--matrix", "free", "--eigenvalues", "3",
                                     "--tolerance", "1e-8", "--max-dimension", "480"],
                                    in: dir.appendingPathComponent("run"))
        #expect(summary["matrix"] == .string("free"))
        #expect(summary["converged"] == .bool(true))
        try Self.expectAgreement(summary, try Self.reference(x: x, k: 3), k: 3, certificate: "nearest")
    }

    /// Matrix-free with a relative tolerance rounding cannot reach: the run stops once every residual is
    /// under a tenth of the products' a-priori rounding (λ0_error less the residual), well before
    /// --max-dimension, says it converged, and numpy's eigenvalues are within the certified error.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func freeLanczosStopsAtTheRoundingFloor() throws {
        let dir = try CLITests.scratch()
        let (n, d) = (1500, 16)
        let x = dir.appendingPathComponent("X.npy")
        try NPY.write(SyntheticData.sphere(n: n, d: d, seed: 9).x, shape: [n, d], to: x)
        let summary = try Self.gram(["--x", x.path, "--eigensolver", "lanczos", "--matrix", "free", "--eigenvalues", "2",
                                     "--tolerance", "1e-15", "--max-dimension", "1100"],
                                    in: dir.appendingPathComponent("run"))
        #expect(summary["converged"] == .bool(true))
        let dimension = try #require(summary["krylov_dimension"]?.doubleValue)
        #expect(dimension < 1000, "Krylov dimension \(dimension): the rounding floor did not stop it")
        guard case .array(let residuals)? = summary["residuals"] else { Issue.record("no residuals"); return }
        let error = try #require(summary["lambda0_error"]?.doubleValue), r0 = try #require(residuals.first?.doubleValue)
        let floor = 0.1 * (error - r0)
        for r in residuals { #expect(try #require(r.doubleValue) <= 1.01 * floor, "residual \(r) above the floor \(floor)") }
        try Self.expectAgreement(summary, try Self.reference(x: x, k: 2), k: 2, certificate: "nearest")
    }

    /// The matrix-free products on the OpenCL device (gram.cl's arccos_product, PoCL in CI): numpy's
    /// eigenvalues of rows of several norms, within the certified error, and the host's products'.
    @Test(.enabled(if: NPYTests.hasNumpy && TestDevices.hasOpenCL, "needs numpy and an OpenCL device"))
    func deviceProductsMatchNumpyAndTheHost() throws {
        let dir = try CLITests.scratch()
        var rng = TestRNG()
        let (n, d) = (333, 6)
        let x = dir.appendingPathComponent("X.npy")
        try NPY.write(rng.normals(n * d, as: Double.self).map { 2 * $0 }, shape: [n, d], to: x)
        let common = ["--x", x.path, "--eigensolver", "lanczos", "--matrix", "free", "--eigenvalues", "3", "--tolerance", "1e-9"]
        let device = try Self.gram(common + ["--backend", "opencl"] + (TestDevices.openCL.map { ["--device", $0.info.name] } ?? []),
                                   in: dir.appendingPathComponent("device"))
        let host = try Self.gram(common + ["--backend", "cpu"], in: dir.appendingPathComponent("host"))
        #expect(device["converged"] == .bool(true))
        try Self.expectAgreement(device, try Self.reference(x: x, k: 3), k: 3, certificate: "nearest")
        let (a, b) = (try #require(device["lambda0"]?.doubleValue), try #require(host["lambda0"]?.doubleValue))
        let error = try #require(device["lambda0_error"]?.doubleValue)
        #expect(abs(a - b) <= error, "device λ0 \(a), host \(b)")
        let config = try RunFiles.object(in: dir.appendingPathComponent("device/config.json"), shown: "config.json")
        guard case .object(let resolved)? = config["resolved"] else { Issue.record("no resolved config"); return }
        #expect(resolved["backend"] == .string("opencl"))
    }

    /// The matrix-free product equals the stored one bit for bit (the same tiles, column blocks and
    /// GEMMs), and both equal InfiniteWidthKernel's H∞ times V to rounding, at a size that is a multiple
    /// of neither the tile's rows nor its column block (n = 1100: 17 tiles and a part, a block and a part).
    @Test func matrixFreeProductEqualsTheStoredOne() throws {
        var rng = TestRNG()
        let (n, d, b) = (1100, 7, 3)
        #expect(n > ArcCosineTiles.blockColumns && n % ArcCosineTiles.blockColumns != 0 && n % ArcCosineTiles.tileRows != 0)
        let x = SyntheticData.unitRows(rng.normals(n * d, as: Double.self), n: n, d: d)
        let tiles = ArcCosineTiles(x: x, n: n, d: d)
        let h = tiles.matrix()
        let reference = try InfiniteWidthKernel(x: x, n: n, d: d).matrix
        let worstEntry = zip(h, reference).map { abs($0 - $1) }.max() ?? .nan
        #expect(worstEntry <= 1e-15, "entries off InfiniteWidthKernel's by \(worstEntry) (seed \(rng.seed))")
        let v = rng.normals(b * n, as: Double.self)
        let free = tiles.product(v, vectors: b)
        let stored = h.withUnsafeBufferPointer { ArcCosineTiles.storedProduct($0.baseAddress!, n: n, v, vectors: b) }
        #expect(free == stored, "matrix-free and stored products differ (seed \(rng.seed))")
        let one = ArcCosineTiles(x: x, n: n, d: d, workers: 1).product(v, vectors: b)
        #expect(one == free, "the product depends on the number of threads")
        for q in 0..<b {
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n { s += reference[i * n + j] * v[q * n + j] }
                #expect(abs(s - free[q * n + i]) <= 1e-12 * Double(n), "(H∞V)[\(q), \(i)]: \(free[q * n + i]) against \(s)")
            }
        }
    }

    /// The mask tiles' counts equal the stored n×n counts of maskGram exactly (a width that is not a
    /// multiple of 32), and λ_min(H(0)) by Lanczos on the tiles matches numpy's
    /// eigh of (X Xᵀ ⊙ S Sᵀ)/m from the same masks.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func maskTilesEqualTheStoredCounts() throws {
        let cpu = CPUBackend()
        var rng = TestRNG()
        let (n, d, m) = (203, 6, 1000)
        let x = SyntheticData.unitRows(rng.normals(n * d, as: Double.self), n: n, d: d)
        let inputs = TrainInputs(x: x, y: [Double](repeating: 0, count: n), n: n, d: d, width: nil)
        var cfg = GramExperiment.Config()
        cfg.seed = rng.seed; cfg.precision = .f64
        let tiles = try MaskTiles.of(cpu, inputs: inputs, net: EmpiricalNet(width: m, weights: nil), cfg: cfg)
        // The stored counts, as the full path builds them.
        let net = try NTKTwoLayerNet<Double>(backend: cpu, x: x, n: n, d: d, width: m, initialisation: .random(seed: rng.seed, kappa: 1))
        _ = try net.forward()
        let counts = try cpu.allocate(bytes: n * n * 4)
        try cpu.upload([UInt32](repeating: 0, count: n * n), to: counts)
        for b in net.blocks { try cpu.maskGram(b.shape, masks: b.masks, counts: counts) }
        let stored = try cpu.download(counts, count: n * n, as: UInt32.self)
        var tiled = [UInt32](repeating: 0, count: n * n)
        tiled.withUnsafeMutableBufferPointer { p in
            for t in stride(from: 0, to: n, by: 64) { tiles.counts(rows: t..<min(n, t + 64), into: p.baseAddress! + t * n) }
        }
        #expect(tiled == stored, "tiled counts differ from maskGram's (seed \(rng.seed))")
        // S as 0/1 columns for numpy.
        var s = [Double](repeating: 0, count: n * m)
        var start = 0
        for (block, (words, bits)) in zip(net.blocks, tiles.masks) {
            for i in 0..<n { for r in 0..<block.shape.width where (bits[i * words + r / 32] >> UInt32(r % 32)) & 1 == 1 { s[i * m + start + r] = 1 } }
            start += block.shape.width
        }
        let dir = try CLITests.scratch()
        try NPY.write(x, shape: [n, d], to: dir.appendingPathComponent("X.npy"))
        try NPY.write(s, shape: [n, m], to: dir.appendingPathComponent("S.npy"))
        let ref = try Self.reference(x: dir.appendingPathComponent("X.npy"), k: 1, masks: dir.appendingPathComponent("S.npy"))
        let want = try #require(ref["lambda_min_h0"] as? Double)
        var o = KernelEigensolver.Options()
        o.count = 2; o.block = 16; o.seed = 1
        let got = try KernelEigensolver.free(n: n, options: o, storageBound: 0, trace: Double(n)) { v, b in tiles.product(v, vectors: b) }
        #expect(abs(got.values[0] - want) <= got.error, "λ_min(H(0)) \(got.values[0]) ± \(got.error) against numpy's \(want)")
        #expect(abs(got.values[0] - want) <= 1e-10, "λ_min(H(0)) \(got.values[0]) against numpy's \(want)")
    }

    /// --weights: the empirical kernel of the net with those hidden weights (a trained net's H(t)),
    /// stored (gram_0.npy entry by entry) and from mask tiles (λ_min by Lanczos), against numpy's
    /// (X Xᵀ ⊙ S Sᵀ)/m with S = 1[X Wᵀ > 0]; a width that is not a multiple of 32 or of a block, W
    /// not centred (so it is no random net's); and W that does not fit X, or a width or κ beside it, refused.
    @Test(.enabled(if: NPYTests.hasNumpy, "python3 with numpy is not available"))
    func weightsGiveTheKernelOfThatNet() throws {
        var rng = TestRNG()
        let (n, d, m) = (157, 5, 777)
        let dir = try CLITests.scratch()
        let (xURL, wURL) = (dir.appendingPathComponent("X.npy"), dir.appendingPathComponent("W.npy"))
        try NPY.write(rng.normals(n * d, as: Double.self), shape: [n, d], to: xURL)
        try NPY.write(rng.normals(m * d, as: Double.self).enumerated().map { $0.offset % d == 0 ? $0.element + 0.7 : $0.element }, shape: [m, d], to: wURL)
        let refURL = dir.appendingPathComponent("reference.json")
        let ref = try Self.reference(x: xURL, k: 1, weights: wURL, out: refURL)
        let want = try #require(ref["lambda_min_h0"] as? Double)
        let hWant = try NPY.read(dir.appendingPathComponent("reference.h.npy")).values
        let full = try Self.gram(["--x", xURL.path, "--weights", wURL.path, "--eigensolver", "full", "--precision", "f64", "--backend", "cpu"],
                                 in: dir.appendingPathComponent("full"))
        #expect(full["width"] == .int(m))
        let hGot = try NPY.read(dir.appendingPathComponent("full/gram_0.npy")).values
        try #require(hGot.count == n * n)
        let worst = zip(hGot, hWant).map { abs($0 - $1) }.max() ?? .nan
        #expect(worst <= 1e-13, "gram_0.npy off numpy's (X Xᵀ ⊙ S Sᵀ)/m by \(worst) (seed \(rng.seed))")
        let fullMin = try #require(full["lambda_min_h0"]?.doubleValue)
        #expect(abs(fullMin - want) <= 1e-12, "full λ_min(H) \(fullMin) against numpy's \(want)")
        let tiled = try Self.gram(["--x", xURL.path, "--weights", wURL.path, "--eigensolver", "lanczos", "--matrix", "free", "--eigenvalues", "2",
                                   "--precision", "f64", "--backend", "cpu"], in: dir.appendingPathComponent("tiled"))
        let got = try #require(tiled["lambda_min_h0"]?.doubleValue), error = try #require(tiled["lambda_min_h0_error"]?.doubleValue)
        #expect(abs(got - want) <= max(error, 1e-12), "tiled λ_min(H) \(got) ± \(error) against numpy's \(want)")
        let config = try RunFiles.object(in: dir.appendingPathComponent("tiled/config.json"), shown: "config.json")
        #expect(config["weights"] == .string(wURL.path))
        // Refusals: W of other columns, a width that disagrees, κ beside given weights.
        let other = dir.appendingPathComponent("W3.npy")
        try NPY.write(rng.normals(10 * 3, as: Double.self), shape: [10, 3], to: other)
        let cli = CLITests()
        try cli.expectCleanFailure(["gram", "--x", xURL.path, "--weights", other.path], mentions: "W3.npy", "3 columns", "d = 5")
        try cli.expectCleanFailure(["gram", "--x", xURL.path, "--weights", wURL.path, "--width", "100"], mentions: "--width 100", "777 rows")
        try cli.expectCleanFailure(["gram", "--x", xURL.path, "--weights", wURL.path, "--kappa", "2"], mentions: "--kappa", "--weights")
    }

    /// A size too large for the memory is refused in one line naming the largest n of each mode, and
    /// nothing is written.
    @Test func preflightNamesTheLargestNOfEachMode() throws {
        let env = ["WIDENET_MEMORY_LIMIT": "200000000"]
        for mode in ["stored", "auto"] {
            try CLITests().expectCleanFailure(["gram", "--n", mode == "auto" ? "400000" : "6000", "--d", "4", "--eigensolver", "lanczos",
                                               "--matrix", mode], env: env,
                                              mentions: "largest n that fits", "with --matrix stored", "with --matrix free", "WIDENET_MEMORY_LIMIT")
        }
        let r = try CLITests.run(["gram", "--n", "6000", "--d", "4", "--eigensolver", "lanczos", "--matrix", "stored", "--quiet", "--out",
                                  try CLITests.scratch().appendingPathComponent("run").path], env: env)
        #expect(r.status == 69, "exit \(r.status): \(r.stderr)")
        // 200 MB hold one n×n of doubles up to n = 5000, less the Krylov basis; the free mode holds no n×n.
        let match = r.stderr.firstMatch(of: /is (\d+) with --matrix stored, (\d+) with --matrix free/)
        let (stored, free) = (match.flatMap { Int($0.1) } ?? 0, match.flatMap { Int($0.2) } ?? 0)
        #expect(stored > 3000 && stored < 5000, "largest stored n \(stored) in: \(r.stderr)")
        #expect(free > 2 * stored, "largest free n \(free) in: \(r.stderr)")
    }

    /// Options that contradict each other: one line naming both, exit 64, nothing written.
    @Test func conflictingOptionsAreRefused() throws {
        let cli = CLITests()
        try cli.expectCleanFailure(["gram", "--n", "50", "--matrix", "free", "--eigensolver", "full"], mentions: "--matrix free", "--eigensolver full")
        try cli.expectCleanFailure(["gram", "--n", "50", "--eigensolver", "full", "--tolerance", "1e-8"], mentions: "--tolerance", "--eigensolver full")
        try cli.expectCleanFailure(["gram", "--n", "50", "--eigenvalues", "0"], mentions: "--eigenvalues")
        try cli.expectCleanFailure(["gram", "--n", "50", "--matrix", "stored", "--backend", "opencl"], mentions: "--backend opencl", "--matrix stored")
        let r = try CLITests.run(["gram", "--n", "50", "--matrix", "free", "--eigensolver", "full", "--quiet"])
        #expect(r.status == 64, "exit \(r.status)")
    }

    /// auto: a full decomposition at small n (gram_inf.npy and the whole spectrum), Lanczos with
    /// --matrix free; the two agree.
    @Test func autoChoosesFullAtSmallNAndAgreesWithLanczos() throws {
        let dir = try CLITests.scratch()
        let full = try Self.gram(["--n", "300", "--d", "8"], in: dir.appendingPathComponent("full"))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("full/gram_inf.npy").path))
        #expect(full["eigensolver"] == .string("full"))
        let free = try Self.gram(["--n", "300", "--d", "8", "--matrix", "free", "--eigenvalues", "2"], in: dir.appendingPathComponent("free"))
        #expect(free["eigensolver"] == .string("lanczos"))
        let (a, b) = (try #require(full["lambda0"]?.doubleValue), try #require(free["lambda0"]?.doubleValue))
        #expect(abs(a - b) <= 1e-12, "full \(a), Lanczos \(b)")
    }

    /// With --width, Lanczos on H(0) from the mask tiles agrees with the full path's LAPACK on the
    /// stored counts (λ_min(H(0)) within its error, ‖H(0) − H∞‖_F to rounding).
    @Test func widthFromMaskTilesAgreesWithTheStoredCounts() throws {
        let dir = try CLITests.scratch()
        let common = ["--n", "200", "--d", "6", "--width", "2000", "--seed", "2"]
        let full = try Self.gram(common + ["--eigensolver", "full"], in: dir.appendingPathComponent("full"))
        let tiled = try Self.gram(common + ["--eigensolver", "lanczos", "--matrix", "free", "--eigenvalues", "2"],
                                  in: dir.appendingPathComponent("tiled"))
        let (a, b) = (try #require(full["lambda_min_h0"]?.doubleValue), try #require(tiled["lambda_min_h0"]?.doubleValue))
        let err = try #require(tiled["lambda_min_h0_error"]?.doubleValue)
        #expect(abs(a - b) <= max(err, 1e-13), "λ_min(H(0)): full \(a), tiles \(b) ± \(err)")
        let (fa, fb) = (try #require(full["gram_deviation_frobenius"]?.doubleValue), try #require(tiled["gram_deviation_frobenius"]?.doubleValue))
        #expect(abs(fa - fb) <= 1e-12 * fa, "‖H(0) − H∞‖_F: full \(fa), tiles \(fb)")
        // ‖H(0) − H∞‖₂: LAPACK on the stored difference against Lanczos on its square.
        let (sa, sb) = (try #require(full["gram_deviation_spectral"]?.doubleValue), try #require(tiled["gram_deviation_spectral"]?.doubleValue))
        #expect(abs(sa - sb) <= 1e-6 * sa && sb <= sa * (1 + 1e-12), "‖H(0) − H∞‖₂: full \(sa), Lanczos \(sb)")
    }
}
