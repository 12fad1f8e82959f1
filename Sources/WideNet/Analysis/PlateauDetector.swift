import Foundation

/// Plateaus of a loss curve: maximal runs of steps where the relative change per step stays
/// under a threshold for at least a minimum number of steps, above `floor` (below it the run has
/// converged, and rounding makes the curve flat). The drops between them are DropDetector's.
public struct Plateau: Sendable, Equatable {
    public let start: Int, end: Int      // steps, inclusive
    public let loss: Double              // mean loss over the plateau
    public init(start: Int, end: Int, loss: Double) { self.start = start; self.end = end; self.loss = loss }
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

/// A drop of a loss curve: a peak of the descent rate −Δ log L per step that stands out, with the
/// steps where the rate crosses half the peak on either side.
public struct Drop: Sendable, Equatable {
    public let start: Int, peak: Int, end: Int
    public let lossBefore: Double, lossAfter: Double
}

public enum DropDetector {
    /// The descent rate is smoothed over 2·halfWidth + 1 steps and ignored below `floor`. A peak
    /// counts when on each side the rate falls under half of it before a higher peak (or the curve
    /// ends), and the loss falls by at least `minFall` (relative) between the half-height crossings.
    /// Overlapping stages that a flatness test merges are told apart this way.
    public static func drops(_ loss: [Double], floor: Double = 0, halfWidth: Int = 5, minFall: Double = 0.05) -> [Drop] {
        let n = loss.count
        guard n >= 3 else { return [] }
        var raw = [Double](repeating: 0, count: n)
        for t in 1..<n where loss[t - 1] > floor && loss[t] > 0 && loss[t - 1].isFinite && loss[t].isFinite {
            raw[t] = Foundation.log(loss[t - 1] / loss[t])
        }
        var rate = [Double](repeating: 0, count: n)
        for t in 0..<n {
            let lo = max(0, t - halfWidth), hi = min(n - 1, t + halfWidth)
            rate[t] = raw[lo...hi].reduce(0, +) / Double(hi - lo + 1)
        }
        var out: [Drop] = []
        var t = 1
        while t < n {
            guard rate[t] > 0, rate[t] >= rate[t - 1], t == n - 1 || rate[t] > rate[t + 1] else { t += 1; continue }
            let half = rate[t] / 2
            var left = t, right = t
            var standsOut = true
            while left > 0 && rate[left] > half {
                left -= 1
                if rate[left] > rate[t] { standsOut = false; break }
            }
            while standsOut && right < n - 1 && rate[right] > half {
                right += 1
                if rate[right] > rate[t] { standsOut = false }
            }
            if standsOut, loss[left] > 0, (loss[left] - loss[right]) >= minFall * loss[left] {
                out.append(Drop(start: left, peak: t, end: right, lossBefore: loss[left], lossAfter: loss[right]))
                t = right + 1
            } else {
                t += 1
            }
        }
        return out
    }
}
