import Foundation
import Testing
@testable import WideNet
@testable import WideNetReports

/// `widenet sweep` (the train experiment across widths) and `widenet report` (reports rebuilt from
/// a run's files, and runs compared), at sizes that finish in seconds on the CPU backend.
@Suite(.serialized)
struct SweepReportTests {
    /// Library runs write their reports as the CLI's do.
    init() { RunReports.install() }

    static let widths = [256, 1024, 4096]

    static func base(_ out: String, steps: Int = 30) -> NTKTrainConfig {
        var c = NTKTrainConfig()
        c.n = 16; c.d = 4; c.steps = steps; c.seed = 5
        c.backend = .cpu; c.out = out; c.quiet = true
        return c
    }

    static func read(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    static func summary(_ dir: URL) throws -> JSONObject {
        try JSONReader.parseObject(read(dir.appendingPathComponent("summary.json")))
    }

    /// One row per width, the same η everywhere, and a movement that falls with m.
    @Test func sweepWritesOneRowPerWidthAndFitsTheSlopes() throws {
        let out = TrainTests.tempDir()
        var announced: [Int] = []
        let r = try WidthSweep.run(SweepReportTests.base(out), widths: SweepReportTests.widths.reversed()) { done, total, _, _ in
            #expect(total == SweepReportTests.widths.count)
            announced.append(done)
        }
        #expect(announced == Array(1...SweepReportTests.widths.count))
        for file in ["config.json", "metrics.jsonl", "summary.json", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: r.directory.appendingPathComponent(file).path), "missing \(file)")
        }
        let rows = try TrainTests.metrics(r.directory)
        #expect(rows.map { $0["width"] as? Int } == SweepReportTests.widths.map { Optional($0) })
        #expect(rows.allSatisfy { $0["step"] as? Int == 30 && $0["loss"] is Double })

        let summary = try SweepReportTests.summary(r.directory)
        #expect(summary.render() == r.summary.render())
        let slope = try #require(summary["slope_max_move"]?.numeric)
        #expect(slope < 0, "the movement did not fall with m: slope \(slope)")
        for key in ["r2_max_move", "slope_flip_fraction", "slope_kernel_deviation"] {
            #expect(summary[key]?.numeric?.isFinite == true, "\(key) missing: \(summary.render())")
        }
        // Every width ran with the sweep's η, read back from its own run.
        let lr = try #require(summary["lr"]?.numeric)
        for m in SweepReportTests.widths {
            let run = try SweepReportTests.summary(r.directory.appendingPathComponent("width-\(m)"))
            #expect(run["lr"]?.numeric == lr, "width \(m)")
            #expect(run["width"]?.numeric == Double(m))
        }
        let config = try JSONReader.parseObject(SweepReportTests.read(r.directory.appendingPathComponent("config.json")))
        #expect(config["command"] == .string("sweep"))
        #expect(config["widths"] == .array(SweepReportTests.widths.map { .int($0) }))
        #expect(config["version"] == .string(widenetVersion))

        // The sweep's own report comes back from its files unchanged.
        let original = try SweepReportTests.read(r.directory.appendingPathComponent("report.html"))
        try ReportRebuild.rebuild(r.directory.path)
        #expect(try SweepReportTests.read(r.directory.appendingPathComponent("report.html")) == original)
        #expect(original.contains("theory: slope −1/2"))
    }

    @Test func sweepRefusesBadWidthsBeforeWriting() throws {
        for widths in [[1024], [1024, 1024], [0, 1024], [1024, 4_000_000_000_000]] {
            let out = TrainTests.tempDir()
            #expect(throws: (any Error).self, "widths \(widths)") { try WidthSweep.run(SweepReportTests.base(out), widths: widths) }
            #expect(!FileManager.default.fileExists(atPath: out), "widths \(widths) left \(out) behind")
        }
        let out = TrainTests.tempDir()
        var negative = SweepReportTests.base(out)
        negative.steps = -1
        #expect(throws: (any Error).self) { try WidthSweep.run(negative, widths: [256, 1024]) }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// The rebuilt report of a train run is the report the run wrote, byte for byte: every figure
    /// it shows, wall-clock ones included, comes from summary.json or metrics.jsonl.
    @Test func rebuiltTrainReportIsIdentical() throws {
        var c = SweepReportTests.base(TrainTests.tempDir())
        c.width = 512; c.gramEvery = 7; c.logEvery = 3
        let r = try NTKTrainExperiment.run(c)
        let path = r.directory.appendingPathComponent("report.html")
        let original = try SweepReportTests.read(path)
        try FileManager.default.removeItem(at: path)
        try ReportRebuild.rebuild(r.directory.path)
        let rebuilt = try SweepReportTests.read(path)
        #expect(rebuilt == original)
        #expect(rebuilt.utf8.count == original.utf8.count)
    }

    @Test func comparisonNamesEveryRun() throws {
        let parent = TrainTests.tempDir()
        var dirs: [String] = []
        for (name, width) in [("narrow", 256), ("wide", 2048)] {
            var c = SweepReportTests.base(parent + "/" + name, steps: 10)
            c.width = width
            dirs.append(try NTKTrainExperiment.run(c).directory.path)
        }
        let out = parent + "/compared"
        let dir = try ReportRebuild.compare(dirs, out: out)
        let html = try SweepReportTests.read(dir.appendingPathComponent("report.html"))
        #expect(html.contains("narrow") && html.contains("wide"))
        let summary = try SweepReportTests.summary(dir)
        guard case .array(let runs)? = summary["runs"] else { Issue.record("no runs in \(summary.render())"); return }
        let names = runs.compactMap { run -> String? in
            guard case .object(let o) = run, case .string(let s)? = o["name"] else { return nil }
            return s
        }
        #expect(names == ["narrow", "wide"])
        guard case .array(let compared)? = summary["metrics_compared"] else { Issue.record("no metrics_compared"); return }
        #expect(compared.contains(.string("loss")) && compared.contains(.string("max_move")))
        // One figure per shared metric, each with a series per run.
        #expect(html.components(separatedBy: "<figure>").count - 1 == compared.count)
    }

    /// A run of another command: the summary, and one plot per numeric metrics column against step
    /// (an array column gets one series per entry; text columns none).
    @Test func genericReportDrawsEveryNumericColumn() throws {
        let dir = URL(fileURLWithPath: TrainTests.tempDir())
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var summary = JSONObject()
        summary.set("command", "custom"); summary.set("final_loss", 0.25)
        try (summary.render(pretty: true) + "\n").write(to: dir.appendingPathComponent("summary.json"), atomically: true, encoding: .utf8)
        let rows = (0..<5).map { k in
            var row = JSONObject()
            row.set("step", k); row.set("loss", 1 / Double(k + 1)); row.set("entropy", Double(k))
            row.set("unit", "tanh"); row.set("marginals", [1.0, 2.0])
            return row.render()
        }
        try (rows.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("metrics.jsonl"), atomically: true, encoding: .utf8)
        let html = try SweepReportTests.read(ReportRebuild.rebuild(dir.path))
        #expect(html.contains("widenet custom") && html.contains("final_loss"))
        #expect(html.components(separatedBy: "<figure>").count - 1 == 3, "expected plots of loss, entropy and marginals only")
        #expect(html.contains("marginals[1]"))
    }

    @Test func missingOrBrokenRunsAreOneLineErrors() throws {
        let missing = TrainTests.tempDir()
        let absent = #expect(throws: (any Error).self) { try ReportRebuild.rebuild(missing) }
        #expect(absent.map { "\($0)".contains(missing) && !"\($0)".contains("\n") } == true, "\(String(describing: absent))")

        var c = SweepReportTests.base(TrainTests.tempDir(), steps: 4)
        c.width = 128; c.logEvery = 1
        let run = try NTKTrainExperiment.run(c).directory
        let out = TrainTests.tempDir()
        #expect(throws: (any Error).self) { try ReportRebuild.compare([run.path, missing], out: out) }
        #expect(!FileManager.default.fileExists(atPath: out), "a comparison of a missing run left \(out) behind")

        let metrics = run.appendingPathComponent("metrics.jsonl")
        var lines = try SweepReportTests.read(metrics).components(separatedBy: "\n")
        lines[2] = String(lines[2].dropLast())
        try lines.joined(separator: "\n").write(to: metrics, atomically: true, encoding: .utf8)
        let malformed = #expect(throws: (any Error).self) { try ReportRebuild.rebuild(run.path) }
        #expect(malformed.map { "\($0)".contains("metrics.jsonl line 3") } == true, "\(String(describing: malformed))")

        try FileManager.default.removeItem(at: metrics)
        let lacking = #expect(throws: (any Error).self) { try ReportRebuild.rebuild(run.path) }
        #expect(lacking.map { "\($0)".contains("no metrics.jsonl") } == true, "\(String(describing: lacking))")
    }

    /// What runs write reads back into the same objects, keys in order, numbers exactly.
    @Test func jsonReadsBackWhatRunsWrite() throws {
        var o = JSONObject()
        o.set("z", 0.1 + 0.2); o.set("a", 3); o.set("tiny", Double.leastNonzeroMagnitude); o.set("big", 1e300); o.set("nan", Double.nan)
        o.set("text", "tab\t\"quote\" λ 🙂 \u{1}"); o.set("flag", false); o.set("list", [1.5, -2, 1e-7])
        var inner = JSONObject()
        inner.set("k", "v")
        o.set("inner", inner)
        for pretty in [false, true] {
            let text = o.render(pretty: pretty)
            #expect(try JSONReader.parseObject(text).render(pretty: pretty) == text)
        }
        #expect(try JSONReader.parse("\"\\ud83d\\ude42\"") == .string("🙂"))
        for bad in ["{\"a\": 1,}", "{\"a\" 1}", "[1, 2", "{\"a\": nan}", "01x", "{} {}", "\"open"] {
            #expect(throws: (any Error).self, "\(bad)") { try JSONReader.parse(bad) }
        }
    }

    /// Through the binary: bad input is one line and a non-zero exit, and nothing is written.
    @Test func commandLineErrors() throws {
        let dir = try CLITests.scratch()
        for args in [["sweep", "--widths", "1024", "--backend", "cpu"], ["sweep", "--widths", "1024,x", "--backend", "cpu"],
                     ["sweep", "--widths", "256,4000000000000", "--backend", "cpu"]] {
            let out = dir.appendingPathComponent(UUID().uuidString).path
            let r = try CLITests.run(args + ["--out", out, "--quiet"])
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.split(separator: "\n").filter { !$0.hasPrefix("note:") }.count == 1, "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(args) left \(out) behind")
        }
        let missing = dir.appendingPathComponent("nowhere").path
        let r = try CLITests.run(["report", missing])
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(missing), "\(r.stderr)")
    }

    /// A small sweep through the binary: one progress line per width, then its directory rebuilt.
    @Test func commandLineSweepAndReport() throws {
        let out = try CLITests.scratch().appendingPathComponent("sweep").path
        let r = try CLITests.run(["sweep", "--widths", "256,1024", "--n", "16", "--d", "4", "--steps", "10", "--backend", "cpu",
                                  "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").filter { $0.hasPrefix("width ") }.count == 2, "\(r.stderr)")
        #expect(r.stdout.contains("slope_max_move"))
        let again = try CLITests.run(["report", out])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("report.html"))
    }
}
