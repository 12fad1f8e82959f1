import ArgumentParser
import Foundation
import WideNet

extension WideNetCommand {
    /// Parses and runs a command. A parse or validation error is one line on standard error,
    /// `error: <what is wrong>`, exit code 64; `--help` prints the usage.
    static func main(_ arguments: [String]?) {
        do {
            if let arguments, (try? LaunchEnvironment.layout())??.rank ?? 0 == 0 {
                for note in RepeatedOptions.notes(arguments) { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
            }
            var command = try parseAsRoot(arguments.map(NegativeValues.attached))
            try command.run()
        } catch {
            let code = classified(error).map { ExitCode($0.exitCode) } ?? exitCode(for: error)
            let text = message(for: error)
            // Help, --version, and errors already reported by `reportingErrors` (an ExitCode).
            if code == .success || text.isEmpty { exit(withError: error) }
            // Under a launcher every rank parses the same line: rank 0 says what is wrong for all.
            let rank = (try? LaunchEnvironment.layout())??.rank ?? 0
            if rank != 0 { Foundation.exit(code.rawValue) }
            FileHandle.standardError.write(Data("error: \(text.replacingOccurrences(of: "\n", with: " "))\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

/// The class of a library error (a value out of range: 65) that a command's validate() threw, which the
/// parser hands on wrapped in its own (internal) error type and would otherwise end with exit code 1.
private func classified(_ error: Error, depth: Int = 0) -> FailureClass? {
    if let c = FailureClass.of(error) { return c }
    guard depth < 4 else { return nil }
    for child in Mirror(reflecting: error).children {
        if let inner = child.value as? Error, let c = classified(inner, depth: depth + 1) { return c }
    }
    return nil
}

/// An option given twice (`--width 64 … --width 128`): the parser keeps the last, as a script that
/// appends overrides to a base command expects; each is said on standard error, so that the earlier
/// value is not dropped in silence. Only `repeatable` options collect several values.
enum RepeatedOptions {
    static let repeatable: Set<String> = ["--check", "--help"]   // selftest --check A --check B

    static func notes(_ args: [String]) -> [String] {
        var seen: [String: String] = [:], notes: [String] = []
        for (i, arg) in args.enumerated() {
            if arg == "--" { break }
            guard arg.hasPrefix("--") else { continue }
            let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0]
            if repeatable.contains(name) { continue }
            let value = parts.count > 1 ? parts[1] : (i + 1 < args.count && !args[i + 1].hasPrefix("--") ? args[i + 1] : "")
            if let first = seen[name] {
                notes.append(first.isEmpty && value.isEmpty ? "\(name) is given twice"
                             : "\(name) is given twice (\(first), then \(value)): the last, \(value), is used")
            }
            seen[name] = value
        }
        return notes
    }
}

/// `--width -5` reads as an option `-5` with `--width` missing its value; written `--width=-5`,
/// the value reaches the option's own range check, which names the problem.
enum NegativeValues {
    static func attached(_ args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let arg = args[i]
            if arg == "--" { return out + args[i...] }
            if arg.hasPrefix("--"), !arg.contains("="), i + 1 < args.count, isNegativeNumber(args[i + 1]) {
                out.append(arg + "=" + args[i + 1])
                i += 2
            } else {
                out.append(arg)
                i += 1
            }
        }
        return out
    }

    static func isNegativeNumber(_ s: String) -> Bool {
        guard s.hasPrefix("-"), s.count > 1 else { return false }
        return Double(s) != nil || s.dropFirst().allSatisfy(\.isNumber)
    }
}
