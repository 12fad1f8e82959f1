import Foundation
import Testing
@testable import WideNet

/// The random generator's version in config.json and in every checkpoint, and a checkpoint drawn
/// by another generator (or by one that did not record itself) refused by name on --resume.
@Suite(.serialized)
struct GeneratorVersionTests {
    static func checkpointedRun() throws -> URL {
        let out = try CLITests.scratch().appendingPathComponent("run")
        let r = try CLITests.run(["train", "--n", "16", "--d", "4", "--width", "64", "--steps", "10", "--checkpoint-every", "5",
                                  "--out", out.path, "--quiet"])
        try #require(r.status == 0, "\(r.stderr)")
        return out
    }

    static func state(_ run: URL) -> URL { run.appendingPathComponent("checkpoint/state.json") }

    @Test func runsRecordTheGenerator() throws {
        let run = try Self.checkpointedRun()
        let config = try JSONReader.parseObject(String(contentsOf: run.appendingPathComponent("config.json"), encoding: .utf8))
        #expect(config["generator"] == .string(PhiloxGenerator.version))
        #expect(try Checkpoint.load(from: run).generator == PhiloxGenerator.version)
    }

    @Test(arguments: [("philox4x32-10/box-muller-0", "'philox4x32-10/box-muller-0'"), ("", "none recorded")])
    func anotherGeneratorsCheckpointIsRefused(recorded: String, named: String) throws {
        let run = try Self.checkpointedRun()
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.state(run))) as! [String: Any]
        if recorded.isEmpty { object.removeValue(forKey: "generator") } else { object["generator"] = recorded }
        try JSONSerialization.data(withJSONObject: object).write(to: Self.state(run))
        // As a killed run leaves it: a checkpoint and no summary.
        try FileManager.default.removeItem(at: run.appendingPathComponent("summary.json"))
        let before = try Data(contentsOf: run.appendingPathComponent("metrics.jsonl"))
        let r = try CLITests.run(["train", "--resume", run.path, "--quiet"])
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: "), "\(r.stderr)")
        #expect(r.stderr.contains(named) && r.stderr.contains(PhiloxGenerator.version), "\(r.stderr)")
        #expect(try Data(contentsOf: run.appendingPathComponent("metrics.jsonl")) == before, "the run is left as it was")
    }
}
