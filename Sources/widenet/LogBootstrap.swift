import ArgumentParser
import Foundation
import Logging
import WideNet

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Sends the library's log (Log.swift) to standard error at the level the command line asks for.
/// LoggingSystem may be bootstrapped once per process; later calls only change the level.
enum LogBootstrap {
    nonisolated(unsafe) private static var done = false

    static func configure(level: Logger.Level) {
        Log.level = level
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace      // each logger carries its own level (Log.level)
            return handler
        }
    }
}

/// A run's summary on standard output as one JSON object, for scripts (`--json`).
func printJSONSummary(_ summary: JSONObject, directory: URL) {
    var o = summary
    o.set("run_directory", directory.path)
    print(o.render())
}
