import Foundation

/// A one-line progress bar on standard error with steps/s, ETA and the current loss. It draws
/// only when standard error is a terminal, at most ten times a second, and never when quiet.
public final class ProgressBar {
    let total: Int
    let label: String
    let enabled: Bool
    let start = Date()
    var lastDraw = Date.distantPast

    public init(total: Int, label: String, quiet: Bool = false) {
        self.total = max(total, 1)
        self.label = label
        enabled = !quiet && isatty(STDERR_FILENO) != 0
    }

    public func update(step: Int, loss: Double?) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || step >= total else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(step) / elapsed : 0
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let width = 28, filled = min(width, width * step / total)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        var line = "\(label) \(bar) \(step)/\(total)  \(ProgressBar.format(rate)) steps/s  ETA \(ProgressBar.duration(eta))"
        if let loss { line += "  loss \(String(format: "%.4e", loss))" }
        FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
    }

    public func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func format(_ rate: Double) -> String {
        rate >= 100 ? String(format: "%.0f", rate) : String(format: "%.1f", rate)
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60)
            : t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : "\(t)s"
    }
}
