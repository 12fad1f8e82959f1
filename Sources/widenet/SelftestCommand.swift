import ArgumentParser
import Foundation
import WideNet

struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check every OpenCL kernel against the CPU reference on one device.",
        discussion: """
            GEMM in every transpose case and tile, the NTK forward and backward passes (both kernel \
            variants, the device's tiles and NVIDIA's), the mask Gram and arc-cosine H∞ kernels, the \
            reductions, Philox bit-identity, the MFLD kernels, launches cut into slices, the local \
            memory the compiler gives each kernel, and short CPU-against-OpenCL train and mfld runs: \
            fresh random inputs at odd sizes, in f32 and f64, one line per check and a closing count. \
            Exit code 0 when every check passes, 1 otherwise. Nothing is written unless --json is given.

            Examples:
              widenet selftest                          # the best OpenCL device
              widenet selftest --device 1 --width 16777216 --json selftest.json
              widenet selftest --plans                  # launch geometry on an NVIDIA GPU model (no device needed)
            """)

    @Option(help: "OpenCL device: an index from `widenet devices` or part of its name. Default: $WIDENET_DEVICE or the best.")
    var device: String?

    @Option(name: .customLong("check"), parsing: .singleValue,
            help: "Run only the checks whose name contains this text (repeatable).")
    var checks: [String] = []

    @Option(help: "Seed of the random inputs (default: a fresh one, printed with any failure).")
    var seed: UInt64?

    @Option(help: "Also run one forward pass at this width against the CPU backend (n and d from --n, --d).")
    var width: Int?
    @Option(help: "Samples of the --width check.") var n: Int = 256
    @Option(help: "Input dimension of the --width check.") var d: Int = 64
    @Option(help: "Precision of the --width check.") var precision: Precision = .f32

    @Flag(help: "Print the launch geometry of every kernel on an NVIDIA GPU model and check it; no device is used.")
    var plans = false

    @Flag(help: "List the checks and exit.") var list = false

    @Option(help: "Write the results as JSON to this file.") var json: String?

    func validate() throws {
        if let width, width < 1 { throw BackendError("--width must be at least 1 (got \(width))") }
        if n < 1 || d < 1 { throw BackendError("--n and --d must be at least 1") }
        if plans && (width != nil || !checks.isEmpty) { throw ValidationError("--plans uses no device: it takes no --width or --check") }
        for pattern in checks where !KernelChecks.names.contains(where: { $0.localizedCaseInsensitiveContains(pattern) }) {
            throw ValidationError("--check \(pattern): no check's name contains it (see --list)")
        }
    }

    func run() throws {
        if list { KernelChecks.names.forEach { print($0) }; return }
        if plans { return try runPlans() }
        try reportingErrors {
            let spec = device ?? ProcessInfo.processInfo.environment["WIDENET_DEVICE"].flatMap { $0.isEmpty ? nil : $0 }
            let gpu = try BackendSelection.openCL(device: spec, precision: .f32)
            print("selftest on [\(gpu.info.deviceIndex ?? 0)] \(gpu.info.deviceName) (\(gpu.info.driver)), "
                + "NTK tiles f32: \(gpu.ntkConfig(.f32))")
            var results: [KernelCheckResult] = []
            let selected = KernelChecks.all.filter { c in checks.isEmpty || checks.contains { c.name.localizedCaseInsensitiveContains($0) } }
            for check in selected {
                let result = KernelChecks.run(check, on: gpu, seed: seed)
                print(result.line)
                for failure in result.failures.dropFirst().prefix(9) { print("      \(failure)") }
                results.append(result)
            }
            if let width {
                let result = KernelChecks.wideForward(on: gpu, n: n, d: d, width: width, precision: precision, seed: seed)
                print(result.line)
                results.append(result)
            }
            let failed = results.filter { !$0.passed }.count
            if let json { try write(Report(device: gpu.info, buildSeconds: gpu.buildSeconds, checks: results), to: json) }
            print("selftest: \(results.count - failed) passed, \(failed) failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }

    func runPlans() throws {
        try reportingErrors {
            let rows = LaunchTable.rows()
            print(LaunchTable.text(rows, limits: .nvidia))
            let bad = rows.filter { $0.problem != nil }.count
            if let json { try write(rows, to: json) }
            print("plans: \(rows.count - bad) passed, \(bad) failed")
            if bad > 0 { throw ExitCode(1) }
        }
    }

    struct Report: Encodable {
        var device: BackendInfo
        var buildSeconds: Double
        var checks: [KernelCheckResult]
        var passed: Int { checks.filter(\.passed).count }
        enum CodingKeys: String, CodingKey { case device, buildSeconds = "build_seconds", checks, passed, failed }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(device, forKey: .device)
            try c.encode(buildSeconds, forKey: .buildSeconds)
            try c.encode(checks, forKey: .checks)
            try c.encode(passed, forKey: .passed)
            try c.encode(checks.count - passed, forKey: .failed)
        }
    }

    func write<V: Encodable>(_ value: V, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Infinity has no JSON form: a failed comparison's worst ratio is written as a string.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try AtomicFile.write(try encoder.encode(value), to: URL(fileURLWithPath: path))
    }
}
