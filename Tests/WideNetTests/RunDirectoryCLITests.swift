import Foundation
import Testing
@testable import WideNet

/// Claiming run directories through the binary: default names never collide, and of several runs
/// started into one --out at once exactly one proceeds; the others are refused with one line.
@Suite(.serialized)
struct RunDirectoryCLITests {
    static func start(_ args: [String], cwd: URL) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = CLITests.binary
        p.arguments = args
        p.currentDirectoryURL = cwd
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        return (p, err)
    }

    /// Four runs in a row with the default --out, within one second: four directories.
    @Test func defaultNamesDoNotCollide() throws {
        let cwd = try CLITests.scratch()
        for seed in 1...4 {
            let (p, _) = try Self.start(["saddle", "--seed", "\(seed)", "--steps", "20", "--quiet"], cwd: cwd)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
        let runs = try FileManager.default.contentsOfDirectory(atPath: cwd.appendingPathComponent("runs").path)
        #expect(runs.count == 4, "\(runs)")
        for run in runs {
            #expect(FileManager.default.fileExists(atPath: cwd.appendingPathComponent("runs/\(run)/summary.json").path))
        }
    }

    /// --out as a bare one-character name, and nested under new ones: each made where it was asked.
    @Test func shortAndNestedOutNames() throws {
        let cwd = try CLITests.scratch()
        for out in ["A", "b/c", "d//e/", "f/g/h"] {
            let (p, err) = try Self.start(["saddle", "--steps", "5", "--quiet", "--out", out], cwd: cwd)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(out): \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            #expect(FileManager.default.fileExists(atPath: cwd.appendingPathComponent(out).appendingPathComponent("summary.json").path), "\(out)")
        }
        let cases = ["A": "", "ab/c": "ab", "/x": "/", "a//b/": "a", "/": "/", "a/b/c": "a/b", "./a": ".", "x/": ""]
        for (path, parent) in cases { #expect(RunDirectory.parentPath(path) == parent, "\(path)") }
    }

    /// Eight runs started together into one --out (and eight more with the default --out, all in the
    /// same second): one of the first eight writes the directory, seven are refused by name; every
    /// one of the second eight gets a directory of its own.
    @Test func concurrentStartsIntoOneDirectory() throws {
        let cwd = try CLITests.scratch()
        let out = cwd.appendingPathComponent("shared-out").path
        let args = ["saddle", "--steps", "3000", "--quiet", "--out", out]
        let procs = try (0..<8).map { _ in try Self.start(args, cwd: cwd) }
        let defaults = try (0..<8).map { _ in try Self.start(["saddle", "--steps", "50", "--quiet"], cwd: cwd) }
        var ok = 0, refused = 0
        for (p, err) in procs {
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            if p.terminationStatus == 0 { ok += 1; continue }
            refused += 1
            let lines = text.split(separator: "\n").filter { !$0.hasPrefix("note:") }
            #expect(lines.count == 1 && lines[0].hasPrefix("error: --out \(out)"), "\(text)")
            #expect(text.contains("in use by another widenet run") || text.contains("already holds a run"), "\(text)")
        }
        #expect(ok == 1 && refused == 7, "\(ok) succeeded, \(refused) refused")
        for (p, _) in defaults { p.waitUntilExit(); #expect(p.terminationStatus == 0) }
        let runs = try FileManager.default.contentsOfDirectory(atPath: cwd.appendingPathComponent("runs").path)
        #expect(runs.count == 8, "\(runs)")
        let rows = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(rows.count > 1, "the run that proceeded wrote its metrics")
    }
}
