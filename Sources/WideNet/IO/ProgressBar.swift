import Foundation

/// How a long run reports progress on standard error (`--progress`).
public enum ProgressMode: String, Sendable, CaseIterable {
    /// A bar on a terminal, else plain lines (nohup, Slurm logs).
    case auto
    /// A one-line bar redrawn at most ten times a second.
    case bar
    /// A plain line about every ten seconds, and one at the end.
    case lines
    /// One JSON object per line about every second, and one at the end, for programs.
    case json
    case none
}

/// Progress of a run on standard error: steps/s and ETA from the steps this process ran (a resumed
/// run counts from where it resumed), and the current loss. Never shown when quiet.
public final class ProgressBar {
    /// The mode every run uses unless quiet (set once from the command line).
    nonisolated(unsafe) public static var mode: ProgressMode = .auto

    let total: Int
    let label: String
    let mode: ProgressMode
    let firstStep: Int
    let start = Date()
    var lastDraw = Date.distantPast
    var lastStep: Int?, lastLoss: Double?

    /// `firstStep`: the step this process starts from (0, or the checkpoint's step when resuming).
    public init(total: Int, label: String, quiet: Bool = false, firstStep: Int = 0) {
        self.total = max(total, 1)
        self.label = label
        self.firstStep = firstStep
        var mode = quiet ? .none : ProgressBar.mode
        if mode == .auto { mode = isatty(STDERR_FILENO) != 0 ? .bar : .lines }
        self.mode = mode
    }

    var interval: TimeInterval {
        switch mode { case .bar: 0.1; case .lines: 10; case .json: 1; case .auto, .none: .infinity }
    }

    public func update(step: Int, loss: Double?) {
        guard mode != .none else { return }
        lastStep = step
        if let loss { lastLoss = loss }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= interval || (mode == .bar && step >= total) else { return }
        lastDraw = now
        draw(step: step, at: now, final: false)
    }

    /// Ends the display: the bar is cleared; lines and JSON get a closing record of where the run stopped.
    public func finish() {
        switch mode {
        case .bar: FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        case .lines, .json: if let step = lastStep { draw(step: step, at: Date(), final: true) }
        case .auto, .none: break
        }
        lastStep = nil
    }

    func draw(step: Int, at now: Date, final: Bool) {
        let elapsed = now.timeIntervalSince(start)
        let done = max(step - firstStep, 0)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - step) / rate : .infinity
        switch mode {
        case .bar:
            let width = 28, filled = min(width, width * step / total)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            var line = "\(label) \(bar) \(step)/\(total)  \(ProgressBar.format(rate)) steps/s  ETA \(ProgressBar.duration(eta))"
            if let loss = lastLoss { line += "  loss \(String(format: "%.4e", loss))" }
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
        case .lines:
            var line = "\(label): step \(step)/\(total) (\(100 * step / total)%)  \(ProgressBar.format(rate)) steps/s"
            line += final ? "  \(ProgressBar.duration(elapsed)) in all" : "  ETA \(ProgressBar.duration(eta))"
            if let loss = lastLoss { line += "  loss \(String(format: "%.4e", loss))" }
            FileHandle.standardError.write(Data((line + "\n").utf8))
        case .json:
            var o = JSONObject()
            o.set("progress", label); o.set("step", step); o.set("total", total)
            o.set("steps_per_second", rate); o.set("elapsed_s", elapsed); o.set("eta_s", final ? 0 : eta.isFinite ? eta : nil)
            o.set("loss", lastLoss); o.set("final", final)
            FileHandle.standardError.write(Data((o.render() + "\n").utf8))
        case .auto, .none: break
        }
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
