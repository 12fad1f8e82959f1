/// The launch geometry of every kernel, as pure functions of the problem, the tiles and the
/// limits, so that the plans can be checked against a device that is not here (an NVIDIA GPU's
/// grid and local memory) and tabulated. Each backend method launches exactly the plan below;
/// the local-memory figures mirror the kernels' __local arrays and are checked against the
/// compiler's own by the tests.
public enum LaunchPlans {
    // Variant-1 NTK and MFLD forward tiles (rowtile.cl) and the reductions' work-group.
    static let forwardSamples = 32, forwardWords = 4, forwardChunk = 16, reduceGroup = 128, reduceGroups = 256
    static let backwardGroup = 64, backwardSamples = 32, backwardChunk = 16
    static let fillGroup = 64, outputStepGroup = 64

    /// Build options of rowtile.cl's tiles.
    static var rowtileDefines: [String] {
        ["-DFWD_TN=\(forwardSamples)", "-DFWD_WQ=\(forwardWords)", "-DFWD_KC=\(forwardChunk)"]
    }

    /// rowtile.cl's forward passes (ntk_forward, mfld_forward) over `rows` rows of W and n samples.
    static func rowtileForward(_ kernel: String, n: Int, rows: Int, scalar: Int) -> KernelLaunch {
        let tn = forwardSamples, wq = forwardWords, kc = forwardChunk
        let words = ceilDiv(rows, 32)
        return KernelLaunch(kernel: kernel, groups: [ceilDiv(words, wq), ceilDiv(n, tn)], local: [tn * wq],
                            localBytes: (tn * (kc + 1) + wq * 32 * (kc + 1) + wq * tn) * scalar, slicesDimension1: true)
    }
    /// How many partials per sample a forward plan leaves for sum_partials.
    static func partialGroups(_ plan: KernelLaunch) -> Int { plan.groups[0] }

    static func sumPartials(n: Int, scalar: Int) -> KernelLaunch {
        KernelLaunch(kernel: "sum_partials", groups: [n], local: [reduceGroup], localBytes: reduceGroup * scalar)
    }

    /// A strided reduction over any count (sum_squares, max_move_sq, mask_flips): a fixed number of groups.
    static func reduction(_ kernel: String, bytesPerItem: Int) -> KernelLaunch {
        KernelLaunch(kernel: kernel, groups: [reduceGroups], local: [reduceGroup], localBytes: reduceGroup * bytesPerItem)
    }

    /// running_mean (average.cl): the reductions' fixed grid, striding over any count.
    static var runningMean: KernelLaunch { KernelLaunch(kernel: "running_mean", groups: [reduceGroups], local: [reduceGroup], localBytes: 0) }

    /// resnet.cl's element-wise kernels: the same fixed grid, striding over any count.
    static func elementwise(_ kernel: String) -> KernelLaunch { KernelLaunch(kernel: kernel, groups: [reduceGroups], local: [reduceGroup], localBytes: 0) }

    // MARK: NTK

    static func ntkForward(_ s: NTKBlockShape, _ c: NTKKernelConfig, scalar: Int) -> KernelLaunch {
        if c.variant == 1 { return rowtileForward("ntk_forward", n: s.n, rows: s.width, scalar: scalar) }
        return KernelLaunch(kernel: "ntk_forward_tiled", groups: [ceilDiv(s.width, c.tm), ceilDiv(s.n, c.tn)],
                            local: [c.forwardItems], localBytes: c.forwardLocalBytes(scalar), slicesDimension1: true)
    }

    static func ntkOutputGradient(_ s: NTKBlockShape, _ c: NTKKernelConfig, scalar: Int) -> KernelLaunch {
        KernelLaunch(kernel: "ntk_output_gradient_tiled", groups: [ceilDiv(s.width, c.tm), ceilDiv(s.n, c.tn)],
                     local: [c.forwardItems], localBytes: c.outputGradientLocalBytes(scalar), slicesDimension1: true)
    }

    static func ntkOutputStep(_ s: NTKBlockShape) -> KernelLaunch { .items("ntk_output_step", s.width, group: outputStepGroup) }

    static func ntkBackward(_ s: NTKBlockShape, _ c: NTKKernelConfig, scalar: Int) -> KernelLaunch {
        if c.variant == 1 {
            return .items("ntk_backward_update", s.width, group: backwardGroup,
                          localBytes: (backwardSamples * backwardChunk + backwardSamples) * scalar)
        }
        return KernelLaunch(kernel: "ntk_backward_tiled", groups: [ceilDiv(s.width, c.bm), ceilDiv(s.d, c.bd)],
                            local: [c.backwardItems], localBytes: c.backwardLocalBytes(scalar), slicesDimension1: true)
    }

    static func gram(_ kernel: String, n: Int, _ c: GramKernelConfig) -> KernelLaunch {
        KernelLaunch(kernel: kernel, groups: [ceilDiv(n, c.tile), ceilDiv(n, c.tile)], local: [c.tile, c.tile],
                     slicesDimension1: true)
    }

    /// arccos_product (gram.cl): 64 rows a group; the staged columns (APT_J of them, each d unit
    /// coordinates, a norm and b vector entries) halve from 32 until they fit half the local memory.
    /// Compiled per d and b (the private sums and the staged rows are sized by them).
    static func arcCosineProduct(n: Int, d: Int, vectors b: Int, scalar: Int, limits: LaunchLimits) -> (launch: KernelLaunch, defines: [String]) {
        let group = 64, budget = limits.localMemBytes / 2
        // Where even one staged row of d does not fit, only the norms and V are staged.
        let stageRows = (d + 1 + b) * scalar <= budget
        let perColumn = (stageRows ? d : 0) + 1 + b
        var j = 32
        while j > 1 && j * perColumn * scalar > budget { j /= 2 }
        return (.items("arccos_product", n, group: group, localBytes: j * perColumn * scalar),
                ["-DAPT_WG=\(group)", "-DAPT_J=\(j)", "-DAPT_B=\(b)", "-DAPT_D=\(max(d, 1))", "-DAPT_STAGE_U=\(stageRows ? 1 : 0)"])
    }

    // MARK: GEMM, random numbers

    static func gemm(_ s: GEMMShape, _ c: GEMMKernelConfig, scalar: Int) -> KernelLaunch {
        let local = c.local
        let global = c.global(m: s.m, n: s.n)
        return KernelLaunch(kernel: c.kernelName, groups: zip(global, local).map { ceilDiv($0, $1) }, local: local,
                            localBytes: c.localBytes(scalar), slicesDimension1: true)
    }

    static func philoxFill(count: Int) -> KernelLaunch { .items("philox_fill", count, group: fillGroup) }

    // MARK: MFLD

    /// Samples staged per step in mfld_update and mfld_gradient: the tiles' count (32 by default),
    /// or fewer where Xs[UPD_SC][d] would not fit the device's local memory (f64 with d ≥ 192 on a
    /// 48 KB device).
    static func updateSamples(d: Int, scalar: Int, limits: LaunchLimits, _ c: MFLDKernelConfig) -> Int {
        var sc = c.stagedSamples
        while sc > 1 && sc * (d + 1) * scalar > limits.localMemBytes { sc /= 2 }
        return sc
    }

    static func mfldUpdate(_ kernel: String, _ s: MFLDShape, scalar: Int, limits: LaunchLimits, _ c: MFLDKernelConfig) -> KernelLaunch {
        let sc = updateSamples(d: s.d, scalar: scalar, limits: limits, c)
        return .items(kernel, s.particles, group: c.updateGroup, localBytes: sc * (s.d + 1) * scalar)
    }

    static func mfldForward(_ s: MFLDShape, scalar: Int) -> KernelLaunch {
        rowtileForward("mfld_forward", n: s.batch, rows: s.particles, scalar: scalar)
    }
}
