import ArgumentParser
import Foundation
import WideNet

struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Find the fastest GEMM or NTK tile sizes for an OpenCL device and cache them for its driver.",
        discussion: """
            Every candidate is checked against the reference kernel first and rejected if its result \
            differs. The winner is stored in ~/.cache/widenet/gemm-tuning.json (or $WIDENET_TUNING_FILE) \
            for GEMM and ntk-tuning.json beside it (or $WIDENET_NTK_TUNING_FILE) for the NTK kernels, \
            keyed by device name, driver version and precision; later runs use it automatically. The NTK \
            forward tiles are tuned first, then the backward tiles with the best forward ones.

            Examples:
              widenet tune                      # GEMM on the best device, f32, 2048³
              widenet tune --device 1 --size 4096 --precision f64
              widenet tune --kernel ntk --n 256 --d 64 --width 4194304
            """)

    enum Kernel: String, ExpressibleByArgument, CaseIterable { case gemm, ntk }
    @Option(help: "What to tune: gemm or ntk.") var kernel: Kernel = .gemm
    @Option(help: "Square matrix size to time (gemm).") var size: Int = 2048
    @Option(help: "Samples of the NTK block (ntk).") var n: Int = 256
    @Option(help: "Input dimension of the NTK block (ntk).") var d: Int = 64
    @Option(help: "Width of the NTK block (ntk).") var width: Int = 1 << 20
    @Option(help: "Timed repeats per candidate.") var repeats: Int = 5
    @Flag(name: .customLong("dry-run"), help: "Do not store the result.") var dryRun = false
    @OptionGroup var deviceOptions: DeviceOptions

    func validate() throws {
        if size < 1 { throw BackendError("--size must be at least 1") }
        if repeats < 1 { throw BackendError("--repeats must be at least 1") }
        if n < 1 || d < 1 || width < 1 { throw BackendError("--n, --d and --width must be at least 1") }
        let given = { (flag: String) in CommandLine.arguments.contains { $0 == flag || $0.hasPrefix(flag + "=") } }
        if kernel == .gemm, let f = ["--n", "--d", "--width"].first(where: given) {
            throw ValidationError("\(f) applies to --kernel ntk, not gemm")
        }
        if kernel == .ntk && given("--size") { throw ValidationError("--size applies to --kernel gemm, not ntk") }
        if let b = deviceOptions.backend, b != .opencl {
            throw ValidationError("tune tunes an OpenCL device's kernels; --backend \(b.rawValue) does not apply")
        }
    }

    func run() throws {
        try reportingErrors {
            let backend = try BackendSelection.openCL(device: deviceOptions.resolvedDevice, precision: deviceOptions.precision)
            if kernel == .ntk { return try tuneNTK(backend) }
            printNote("tuning GEMM on \(backend.info.deviceName) at \(size)³, \(deviceOptions.precision.rawValue)")
            let trials = try GEMMTuner.tune(backend, size: size, precision: deviceOptions.precision, repeats: repeats,
                                            store: !dryRun) { printNote($0) }
            for t in trials {
                let rate = t.accepted ? String(format: "%10.1f GFLOP/s", t.gflops) : "  rejected: \(t.note ?? "")"
                print(t.config.description.padding(toLength: 44, withPad: " ", startingAt: 0) + rate)
            }
            if let best = trials.first, best.accepted {
                print(dryRun ? "best: \(best.config) (not stored)" : "stored: \(best.config) in \(GEMMTuningDatabase.cacheFile.path)")
            }
        }
    }

    func tuneNTK(_ backend: OpenCLBackend) throws {
        printNote("tuning the NTK kernels on \(backend.info.deviceName) at n=\(n) d=\(d) m=\(width), \(deviceOptions.precision.rawValue)")
        let (best, trials) = try NTKTuner.tune(backend, n: n, d: d, width: width, precision: deviceOptions.precision,
                                               repeats: repeats, store: !dryRun) { printNote($0) }
        for t in trials {
            let rate = t.accepted ? String(format: "%10.3f ms", t.seconds * 1e3) : "  rejected: \(t.note ?? "")"
            print("\(t.pass.padding(toLength: 9, withPad: " ", startingAt: 0))\(t.config)  \(rate)")
        }
        print(dryRun ? "best: \(best) (not stored)" : "stored: \(best) in \(NTKTuningDatabase.cacheFile.path)")
    }
}
