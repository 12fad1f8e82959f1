import Logging

/// The library's loggers. Their level is `Log.level` (warning unless the command line's --log-level
/// says otherwise), so library users and tests see only what goes wrong; the handler is whatever
/// LoggingSystem was bootstrapped with (the CLI: standard error).
public enum Log {
    nonisolated(unsafe) public static var level: Logger.Level = .warning

    public static func logger(_ label: String) -> Logger {
        var l = Logger(label: "widenet.\(label)")
        l.logLevel = level
        return l
    }
}
