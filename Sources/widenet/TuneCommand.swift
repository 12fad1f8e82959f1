import ArgumentParser
import Foundation
import WideNet

struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Find the fastest GEMM tile sizes for an OpenCL device and cache them for its driver.",
        discussion: """
            Every candidate is checked against the reference kernel first and rejected if its result \
            differs. The winner is stored in ~/.cache/widenet/gemm-tuning.json (or $WIDENET_TUNING_FILE), \
            keyed by device name, driver version and precision; later runs use it automatically.

            Examples:
              widenet tune                      # the best device, f32, 2048³
              widenet tune --device 1 --size 4096 --precision f64
            """)

    @Option(help: "Square matrix size to time.") var size: Int = 2048
    @Option(help: "Timed repeats per candidate.") var repeats: Int = 5
    @Flag(name: .customLong("dry-run"), help: "Do not store the result.") var dryRun = false
    @OptionGroup var deviceOptions: DeviceOptions

    func validate() throws {
        if size < 1 { throw ValidationError("--size must be at least 1") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let choice = try BackendSelection.make(kind: .opencl, device: deviceOptions.resolvedDevice,
                                                   precision: deviceOptions.precision)
            guard let backend = choice.backend as? OpenCLBackend else { throw ValidationError("tune needs an OpenCL device") }
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
}
