import Foundation

/// The launch geometry of every kernel on a device model, at the shapes the experiments reach:
/// what `widenet selftest --plans` prints and what the geometry tests check for an NVIDIA GPU
/// that is not here. Widths are cut into blocks as the models cut them (WidthPartition, the same on
/// every device), so each row is a launch a run would make.
public enum LaunchTable {
    public struct Row: Sendable, Codable {
        public var kernel: String
        public var precision: Precision
        public var shape: String
        public var groups: [Int]
        public var local: [Int]
        public var localBytes: Int
        /// How many launches dimension 1 is cut into.
        public var slices: Int
        /// Why the launch does not fit, or nil.
        public var problem: String?
    }

    public static func rows(limits: LaunchLimits = .nvidia, vendor: String = "NVIDIA") -> [Row] {
        var out: [Row] = []
        for precision in Precision.allCases {
            let b = precision.bytes
            // The tiles a device of this vendor gets by default: the first that fits, as the databases choose.
            let ntkConfig = NTKTuningDatabase.defaults(vendor: vendor).first { $0.fits(limits, scalarBytes: b) } ?? .reference
            let gemmConfig = GEMMTuningDatabase.defaults(vendor: vendor).first { $0.fits(limits, scalarBytes: b) } ?? .reference
            let configs = [NTKKernelConfig.reference, ntkConfig]
            let gramConfig = FamilyTuningDatabase.gram(vendor: vendor, limits: limits)
            let mfldConfig = FamilyTuningDatabase.mfld(vendor: vendor, limits: limits)
            for (n, d) in [(256, 64), (1000, 1000), (5_000_000, 64), (256, 1 << 20)] {
                for width in [1 << 24, 400_000_000] {
                    let block = min(width, precision == .f32
                        ? NTKTwoLayerNet<Float>.partition(width: width, n: n, d: d).blockWidth
                        : NTKTwoLayerNet<Double>.partition(width: width, n: n, d: d).blockWidth)
                    let s = NTKBlockShape(n: n, d: d, width: block)
                    let label = "n=\(n) d=\(d) m=\(width) (block \(block))"
                    for c in configs {
                        var plans = [LaunchPlans.ntkForward(s, c, scalar: b), LaunchPlans.ntkBackward(s, c, scalar: b)]
                        if c.variant == 2 { plans += [LaunchPlans.ntkOutputGradient(s, c, scalar: b), LaunchPlans.ntkOutputStep(s)] }
                        out += plans.map { row($0, precision, label, limits) }
                    }
                    out += [LaunchPlans.sumPartials(n: n, scalar: b), LaunchPlans.reduction("max_move_sq", bytesPerItem: b),
                            LaunchPlans.reduction("mask_flips", bytesPerItem: 4),
                            LaunchPlans.philoxFill(count: block * d), LaunchPlans.runningMean].map { row($0, precision, label, limits) }
                }
                if n <= 65_536 {
                    out += [LaunchPlans.gram("mask_gram", n: n, gramConfig), LaunchPlans.gram("arccos_gram", n: n, gramConfig)]
                        .map { row($0, precision, "n=\(n)", limits) }
                }
                out.append(row(LaunchPlans.arcCosineProduct(n: n, d: d, vectors: 16, scalar: b, limits: limits).launch, precision,
                               "n=\(n) d=\(d) b=16", limits))
            }
            for (batch, d) in [(256, 20), (3_000_000, 20), (256, OpenCLBackend.maxParticleDimension)] {
                for particles in [1 << 24, 400_000_000] {
                    let D = d + 2
                    let block = min(particles, WidthPartition.forProblem(width: particles, bytesPerUnit: D * b).blockWidth)
                    let s = MFLDShape(batch: batch, d: d, particles: block)
                    let label = "B=\(batch) d=\(d) N=\(particles) (block \(block))"
                    out += [LaunchPlans.mfldForward(s, scalar: b), LaunchPlans.sumPartials(n: batch, scalar: b),
                            LaunchPlans.mfldUpdate("mfld_update", s, scalar: b, limits: limits, mfldConfig),
                            LaunchPlans.mfldUpdate("mfld_gradient", s, scalar: b, limits: limits, mfldConfig),
                            LaunchPlans.reduction("sum_squares", bytesPerItem: b)].map { row($0, precision, label, limits) }
                }
            }
            for g in [GEMMShape(m: 8192, n: 8192, k: 8192), GEMMShape(transB: true, m: 10_000_000, n: 64, k: 64)] {
                out.append(row(LaunchPlans.gemm(g, gemmConfig, scalar: b), precision, "\(g.m)x\(g.n)x\(g.k)", limits))
            }
        }
        return out
    }

    static func row(_ plan: KernelLaunch, _ precision: Precision, _ shape: String, _ limits: LaunchLimits) -> Row {
        var problem: String?
        do { try plan.check(limits, device: "the device model") } catch { problem = "\(error)" }
        return Row(kernel: plan.kernel, precision: precision, shape: shape, groups: plan.groups, local: plan.local,
                   localBytes: plan.localBytes, slices: plan.slices(limits).count, problem: problem)
    }

    /// The table as text, one launch a line.
    public static func text(_ rows: [Row], limits: LaunchLimits) -> String {
        var lines = ["device model: \(limits)",
                     "kernel                       prec  shape                                       groups (dim0 × dim1)   local  local B  slices  fits"]
        for r in rows {
            let groups = r.groups.map(String.init).joined(separator: " × ")
            lines.append([r.kernel.padding(toLength: 28, withPad: " ", startingAt: 0), r.precision.rawValue,
                          r.shape.padding(toLength: 43, withPad: " ", startingAt: 0),
                          groups.padding(toLength: 22, withPad: " ", startingAt: 0),
                          String(r.local.reduce(1, *)).leftPadded(5), String(r.localBytes).leftPadded(8),
                          String(r.slices).leftPadded(6), r.problem.map { "NO: \($0)" } ?? "yes"].joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
