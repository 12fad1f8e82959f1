import ArgumentParser
import Foundation
import WideNet

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the same operations on the CPU and on every OpenCL device, side by side.",
        discussion: """
            Matrix products, the NTK training step (n=256, d=64), the empirical Gram matrix and the mean-field \
            particle update (alone and as a full step), each \
            with GFLOP/s and GB/s beside two rates measured on the same backend: the fraction of its \
            device-to-device copy bandwidth (`of copy`) and the multiple of its best matrix-product rate \
            among --gemm-sizes (`× gemm`; a measured reference, not a peak: a fused kernel or a product at \
            another size can exceed 1). Kernel build time is reported apart. Sizes that do not fit the \
            memory of a backend are refused before anything is measured.

            Examples:
              widenet bench
              widenet bench --gemm-sizes 4096,8192 --ntk-width 16777216 --json bench.json
              widenet bench --backends cpu --repeats 10
            """)

    @Option(name: .customLong("gemm-sizes"), help: "Square matrix sizes (default: 256,1024,2048 on a CPU; 1024,4096,8192 on a GPU).")
    var gemmSizes: String?
    @Option(name: .customLong("ntk-width"), help: "Width of the NTK step (default: 2^16 on a CPU, 2^24 on a GPU).")
    var ntkWidth: Int?
    @Option(help: "Particles of the mean-field update (default: 2^18 on a CPU, 2^24 on a GPU).") var particles: Int?
    @Option(help: "Timed repeats per operation (median reported).") var repeats: Int = 5
    @Option(help: "Backends to measure, e.g. cpu,opencl:0 (default: all).") var backends: String?
    @Option(help: "f32 or f64.") var precision: Precision = .f32
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Flag(help: "No progress lines.") var quiet = false

    func validate() throws {
        if repeats < 1 { throw BackendError("--repeats must be at least 1") }
        if let ntkWidth, ntkWidth < 1 { throw BackendError("--ntk-width must be at least 1") }
        if let particles, particles < 1 { throw BackendError("--particles must be at least 1 (got \(particles))") }
    }

    /// --json FILE can be written when the measurements end (AtomicFile writes a temporary file beside
    /// FILE and renames it over FILE): not a directory, in a writable directory.
    static func checkOutput(_ json: String) throws {
        let fm = FileManager.default
        guard !json.isEmpty else { throw BackendError("--json needs a file name") }
        var isDirectory: ObjCBool = false
        if json.hasSuffix("/") || (fm.fileExists(atPath: json, isDirectory: &isDirectory) && isDirectory.boolValue) {
            throw BackendError("--json \(json) is a directory; name a file to write the results to, e.g. --json "
                + (json.hasSuffix("/") ? json : json + "/") + "bench.json")
        }
        let target = URL(fileURLWithPath: json).resolvingSymlinksInPath().path
        if let type = (try? fm.attributesOfItem(atPath: target))?[.type] as? FileAttributeType, type != .typeRegular {
            throw BackendError("--json \(json) exists and is not a regular file")
        }
        let folder = URL(fileURLWithPath: json).deletingLastPathComponent().path
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BackendError("--json \(json): \(folder) is not a directory")
        }
        guard fm.isWritableFile(atPath: folder) else {
            throw BackendError("--json \(json): \(folder) is not writable")
        }
    }

    /// Every label names a backend that exists: cpu, opencl (every device) or opencl:N.
    static func checkBackends(_ labels: [String]) throws {
        guard !labels.isEmpty else { throw ValidationError("--backends takes cpu, opencl or opencl:N, separated by commas") }
        let devices = (try? CLDevice.all())?.count ?? 0
        for label in labels where label != "cpu" {
            if label == "opencl" {
                guard devices > 0 else { throw ValidationError("--backends opencl: no OpenCL device found (see `widenet devices`)") }
                continue
            }
            guard label.hasPrefix("opencl:"), let index = Int(label.dropFirst("opencl:".count)) else {
                throw ValidationError("--backends \(label): expected cpu, opencl or opencl:N")
            }
            guard (0..<devices).contains(index) else {
                throw ValidationError("--backends \(label): there is no OpenCL device \(index) (\(devices) found; see `widenet devices`)")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            // Before anything is measured: the measurements take minutes.
            if let json { try Self.checkOutput(json) }
            var cfg = BenchExperiment.Config()
            if let gemmSizes {
                let sizes = gemmSizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
                    throw ValidationError("--gemm-sizes takes positive integers separated by commas")
                }
                cfg.gemmSizes = sizes.compactMap { $0 }
            }
            cfg.ntkWidth = ntkWidth; cfg.particles = particles; cfg.repeats = repeats; cfg.precision = precision
            cfg.backends = backends?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if let labels = cfg.backends { try Self.checkBackends(labels) }
            let reports = try BenchExperiment.run(cfg) { line in if !quiet { printNote(line) } }
            print(BenchExperiment.table(reports))
            if let json {
                try AtomicFile.write(BenchExperiment.json(reports, config: cfg).render(pretty: true) + "\n",
                                     to: URL(fileURLWithPath: json))
            }
        }
    }
}
