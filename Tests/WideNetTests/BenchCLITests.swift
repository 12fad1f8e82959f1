import Foundation
import Testing
@testable import WideNet

/// `widenet bench`: sizes that cannot fit are refused before anything is measured, --json is checked
/// before the measurements, and the flop rates are labelled as what they are (× the best GEMM rate).
@Suite(.serialized)
struct BenchCLITests {
    typealias Output = CLITests.Output

    /// The binary under a 4 GB address space and a time limit (CLITests.run).
    static func run(_ args: [String], env: [String: String] = [:], seconds: Double = 120) throws -> Output {
        try CLITests.run(args, env: env, addressSpaceKB: 4_000_000, seconds: seconds)
    }

    /// Exit `status` by the process itself, one `error:` line on standard error and nothing measured
    /// (no progress note, no table).
    func expectRefusal(_ r: Output, status: Int32, mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.reason == .exit && r.status == status, "exit \(r.status) (\(r.reason)), expected \(status): \(r.stderr)",
                sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("error: ") == true, "expected one error line: \(r.stderr)",
                sourceLocation: sourceLocation)
        #expect(r.stdout.isEmpty, "something was measured: \(r.stdout)", sourceLocation: sourceLocation)
        for fragment in mentions {
            #expect(r.stderr.contains(fragment), "error does not mention '\(fragment)': \(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    static let tiny = ["bench", "--backends", "cpu", "--repeats", "1", "--quiet"]

    /// Each size option past host memory: refused with rc 69 naming the bytes needed, the bytes
    /// available and the largest size that fits, which under WIDENET_MEMORY_LIMIT is exact.
    @Test(arguments: [
        (["--gemm-sizes", "100000", "--ntk-width", "1024", "--particles", "1024"], "--gemm-sizes",
         "bench --gemm-sizes 100000 on cpu (three 100000×100000 f32 matrices) needs 120.00 GB of host memory"),
        (["--gemm-sizes", "16", "--ntk-width", "17179869184", "--particles", "1024"], "--ntk-width",
         "bench --ntk-width 17179869184 on cpu"),
        (["--gemm-sizes", "16", "--ntk-width", "1024", "--particles", "17179869184"], "--particles",
         "bench --particles 17179869184 on cpu (22 f32 values each) needs 1511.9"),
    ])
    func sizesPastHostMemoryAreRefusedFirst(args: [String], option: String, what: String) throws {
        let limit = 2e9
        let r = try Self.run(Self.tiny + args, env: ["WIDENET_MEMORY_LIMIT": "2e9"])
        expectRefusal(r, status: 69, mentions: [what, "of host memory but", "is available", "the largest \(option) that fits is"])
        guard r.stderr.contains("(WIDENET_MEMORY_LIMIT)") else { return }   // the machine has less than the cap
        #expect(r.stderr.contains("but 2.00 GB is available"))
        let cfg = BenchExperiment.Config()
        let foot: (Int) -> BenchExperiment.Footprint = switch option {
        case "--gemm-sizes": { BenchExperiment.gemmFootprint(size: $0, precision: .f32) }
        case "--ntk-width": { BenchExperiment.ntkFootprint(width: $0, n: cfg.ntkN, d: cfg.ntkD, precision: .f32) }
        default: { BenchExperiment.particleFootprint(particles: $0, precision: .f32) }
        }
        let total = { (k: Int) in foot(k).device + foot(k).host }
        let named = r.stderr.components(separatedBy: "the largest \(option) that fits is ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let k = try #require(named)
        #expect(total(k) <= limit && total(k + 1) > limit, "\(k) is not the largest that fits in \(limit) bytes")
    }

    /// An OpenCL device: its memory (90 % on a GPU) and its largest allocation, each refusal with the
    /// largest size that meets both.
    @Test func devicePreflightChecksMemoryAndLargestAllocation() throws {
        let gpu = BackendInfo(kind: "opencl", deviceName: "Test GPU", deviceIndex: 0, driver: "test", globalMemBytes: 4 << 30,
                              maxAllocBytes: 1 << 30, supportsF64: true, isGPU: true)
        var cfg = BenchExperiment.Config()
        cfg.ntkWidth = 1024; cfg.particles = 1024
        func refusal(_ cfg: BenchExperiment.Config) -> String? {
            do { try BenchExperiment.preflight(cfg, label: "opencl:0", on: gpu, computesOnHost: false); return nil }
            catch let e as BackendError { #expect(e.failureClass == .resources); return e.description }
            catch { return "\(error)" }
        }
        cfg.gemmSizes = [1024, 16384]
        #expect(refusal(cfg) == nil)
        // 3 × 20000² × 4 bytes = 4.8 GB > 0.9 × 4 GiB; the largest that fits both limits: 16384² × 4 = 1 GiB.
        cfg.gemmSizes = [20000]
        let memory = try #require(refusal(cfg))
        #expect(memory.contains("bench --gemm-sizes 20000 on opencl:0") && memory.contains("needs 4.80 GB of device memory")
                && memory.contains("Test GPU offers 3.87 GB (90 % of its 4.29 GB)") && memory.contains("the largest --gemm-sizes that fits is 16384"),
                "\(memory)")
        cfg.gemmSizes = [17000]     // fits the memory, but one matrix is past the largest allocation
        let buffer = try #require(refusal(cfg))
        #expect(buffer.contains("needs a buffer of 1.16 GB") && buffer.contains("allocates at most 1.07 GB at once")
                && buffer.contains("the largest --gemm-sizes that fits is 16384"), "\(buffer)")
        // The GPU defaults: 2^24 neurons need 5.4 GB here.
        let defaults = try #require(refusal(BenchExperiment.Config()))
        #expect(defaults.contains("bench's default NTK width 16777216 on opencl:0") && defaults.contains("the largest --ntk-width that fits is"),
                "\(defaults)")
        cfg.gemmSizes = [16]; cfg.particles = 1 << 40
        #expect(refusal(cfg)?.contains("the largest --particles that fits is") == true)
    }

    /// The CPU defaults fit a machine that can run the tests at all.
    @Test func defaultsPassTheHostPreflight() throws {
        try BenchExperiment.preflight(BenchExperiment.Config(), label: "cpu", on: CPUBackend().info, computesOnHost: true)
    }

    /// --json naming a directory (existing, or with a trailing slash): refused before anything runs.
    @Test func jsonNamingADirectoryIsRefusedFirst() throws {
        let dir = try CLITests.scratch()
        for json in [dir.path, dir.path + "/", dir.appendingPathComponent("missing/").path + "/"] {
            let r = try Self.run(Self.tiny + ["--gemm-sizes", "16", "--ntk-width", "64", "--particles", "64", "--json", json])
            expectRefusal(r, status: 65, mentions: ["--json \(json)"])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "something was written")
    }

    /// The flop rates are multiples of the best GEMM rate measured, labelled as such (at small sizes
    /// the NTK step exceeds it: it is not a peak); the JSON says the same.
    @Test func ratesAreGivenAsMultiplesOfTheBestGEMM() throws {
        let dir = try CLITests.scratch()
        let json = dir.appendingPathComponent("bench.json")
        let r = try Self.run(Self.tiny + ["--gemm-sizes", "16,32", "--ntk-width", "256", "--particles", "256", "--json", json.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("× gemm") && r.stdout.contains("best gemm") && !r.stdout.contains("peak"), "\(r.stdout)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        let backend = try #require((root["backends"] as? [[String: Any]])?.first)
        let best = try #require(backend["best_gemm_gflop_per_s"] as? Double)
        let size = try #require(backend["best_gemm_size"] as? Int)
        let ms = try #require(backend["measurements"] as? [[String: Any]])
        let gemms = ms.filter { $0["operation"] as? String == "gemm" }
        #expect(gemms.compactMap { $0["gflop_per_s"] as? Double }.max() == best)
        #expect(gemms.first { ($0["gflop_per_s"] as? Double) == best }?["shape"] as? String == "\(size)x\(size)x\(size)")
        #expect(ms.allSatisfy { $0["fraction_of_peak"] == nil })
        let ntk = try #require(ms.first { $0["operation"] as? String == "ntk_step" })
        let ratio = try #require(ntk["ratio_to_best_gemm"] as? Double)
        #expect(abs(ratio - (ntk["gflop_per_s"] as? Double ?? 0) / best) < 1e-9 * ratio)
    }
}
