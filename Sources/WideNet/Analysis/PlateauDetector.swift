/// Plateaus of a loss curve: maximal runs of steps where the relative change per step stays
/// under a threshold for at least a minimum number of steps, above `floor` (below it the run has
/// converged, and rounding makes the curve flat); the drops are what lies between.
public struct Plateau: Sendable, Equatable {
    public let start: Int, end: Int      // steps, inclusive
    public let loss: Double              // mean loss over the plateau
}

public enum PlateauDetector {
    public static func plateaus(_ loss: [Double], threshold: Double, minSteps: Int, floor: Double = 0) -> [Plateau] {
        var out: [Plateau] = []
        var runStart: Int? = nil
        func close(_ end: Int) {
            if let s = runStart, end - s + 1 >= minSteps {
                let segment = loss[s...end]
                out.append(Plateau(start: s, end: end, loss: segment.reduce(0, +) / Double(segment.count)))
            }
            runStart = nil
        }
        for k in 1..<max(loss.count, 1) {
            let prev = loss[k - 1], cur = loss[k]
            let flat = prev.isFinite && cur.isFinite && prev > floor && abs(cur - prev) <= threshold * max(abs(prev), 1e-300)
            if flat {
                if runStart == nil { runStart = k - 1 }
            } else {
                close(k - 1)
            }
        }
        close(loss.count - 1)
        return out
    }
}
