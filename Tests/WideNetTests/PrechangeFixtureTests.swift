import Foundation
import Testing
@testable import WideNet

/// The numbers do not move: each case of Tests/Fixtures/prechange (written by
/// Scripts/fixtures/make_prechange.sh before the run harness) rerun through the binary gives the
/// same metrics rows, summary figures and arrays, f64 to 1e-12 relative. Timings are left out;
/// fields added since are allowed, fields lost are not.
@Suite(.serialized)
struct PrechangeFixtureTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let root = repository.appendingPathComponent("Tests/Fixtures/prechange")
    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { $0 != "inputs" }.sorted()
    }()
    /// What measures the machine, not the run: times, the process's peak memory, and the device's name
    /// (CPU runs of saddle did not record one when the fixtures were written).
    static let timings: Set<String> = ["wall_seconds", "train_seconds", "loop_seconds", "steps_per_second", "seconds_per_step",
                                       "kernel_build_seconds", "seconds_to_target", "peak_resident_bytes", "device"]

    /// OpenBLAS's kernels for the core type the fixtures were written with (make_prechange.sh sets the
    /// same): its AVX-512 kernels round differently, and the saddle runs, which grow the smallest
    /// directions by orders of magnitude, carry that past 1e-12 in 800 steps. Any AVX2 processor runs them.
    static let blas: [String: String] = CPUInstructionSet.avx2.isSupported ? ["OPENBLAS_CORETYPE": "Haswell"] : [:]

    @Test func everyExperimentHasACase() {
        for command in ["train", "mfld", "saddle"] {
            #expect(Self.cases.contains { $0.hasPrefix(command + "-") }, "no fixture for \(command)")
        }
    }

    @Test(arguments: cases)
    func rerunGivesTheSameNumbers(_ name: String) throws {
        let folder = Self.root.appendingPathComponent(name)
        let args = try String(contentsOf: folder.appendingPathComponent("args.txt"), encoding: .utf8)
            .split(whereSeparator: { $0 == " " || $0 == "\n" }).map { word -> String in
                word.hasPrefix("Tests/") ? Self.repository.appendingPathComponent(String(word)).path : String(word)
            }
        let out = try CLITests.scratch().appendingPathComponent("run")
        let result = try CLITests.run(args + ["--out", out.path], env: Self.blas)
        try #require(result.status == 0, "\(name): \(result.stderr)")

        let expectedRows = try RunDirectory.metricsRows(in: folder), rows = try RunDirectory.metricsRows(in: out)
        #expect(rows.count == expectedRows.count, "\(name): \(rows.count) metrics rows, fixture has \(expectedRows.count)")
        for (i, (want, got)) in zip(expectedRows, rows).enumerated() {
            Self.compare(.object(want), .object(got), at: "\(name) metrics row \(i)")
        }
        let summary = try JSONReader.parse(String(contentsOf: out.appendingPathComponent("summary.json"), encoding: .utf8))
        let expected = try JSONReader.parse(String(contentsOf: folder.appendingPathComponent("summary.json"), encoding: .utf8))
        Self.compare(expected, summary, at: "\(name) summary")

        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".npy") {
            let want = try NPY.read(folder.appendingPathComponent(file))
            let got = try NPY.read(out.appendingPathComponent(file))
            #expect(got.shape == want.shape, "\(name)/\(file): shape \(got.shape), fixture \(want.shape)")
            let scale = want.values.map(abs).max() ?? 0
            let worst = zip(want.values, got.values).map { abs($0 - $1) / max(max(abs($0), abs($1)), 1e-3 * scale, 1e-300) }.max() ?? 0
            #expect(worst <= 1e-12, "\(name)/\(file): largest relative difference \(worst)")
        }
    }

    /// Every number in `want` found in `got` at the same place to 1e-12 relative; strings and
    /// booleans equal. Notes and timings are not compared.
    static func compare(_ want: JSONValue, _ got: JSONValue, at path: String, skipping: Set<String> = timings) {
        switch (want, got) {
        case (.object(let w), .object(let g)):
            for (key, value) in w.pairs where !skipping.contains(key) && key != "notes" {
                guard let other = g[key] else { Issue.record("\(path): \(key) is missing"); continue }
                compare(value, other, at: "\(path).\(key)", skipping: skipping)
            }
        case (.array(let w), .array(let g)):
            guard w.count == g.count else { Issue.record("\(path): \(g.count) items, fixture \(w.count)"); return }
            for (i, (a, b)) in zip(w, g).enumerated() { compare(a, b, at: "\(path)[\(i)]", skipping: skipping) }
        default:
            if let a = want.doubleValue, let b = got.doubleValue {
                let scale = max(abs(a), abs(b))
                #expect(abs(a - b) <= 1e-12 * scale, "\(path): \(b), fixture \(a)")
            } else {
                #expect(want == got, "\(path): \(got.render()), fixture \(want.render())")
            }
        }
    }
}
