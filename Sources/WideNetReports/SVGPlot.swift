import Foundation
import WideNet

/// How a series is drawn.
public enum SeriesStyle: Sendable { case line, dashed, dotted, points }

/// One named curve (or point cloud) of a plot.
public struct PlotSeries: Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    public var style: SeriesStyle

    public init(_ name: String, x: [Double], y: [Double], style: SeriesStyle = .line) {
        self.name = name
        self.x = x
        self.y = y
        self.style = style
    }
}

/// A dependency-free line/scatter plot rendered as a standalone SVG element.
///
/// Non-finite points (and non-positive ones on a log axis) are skipped and break a line
/// into separate segments; long series are decimated to keep the file light.
public struct SVGPlot: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xLog: Bool
    public var yLog: Bool
    public var series: [PlotSeries]

    public init(title: String, xLabel: String, yLabel: String,
                xLog: Bool = false, yLog: Bool = false, series: [PlotSeries] = []) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xLog = xLog
        self.yLog = yLog
        self.series = series
    }

    /// Points kept per series at most after decimation.
    static let maxPointsPerSeries = 2000

    /// Okabe–Ito, reordered so the low-contrast yellow comes last.
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7",
                          "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    static func color(_ index: Int) -> String { palette[index % palette.count] }

    /// Returns a complete `<svg>` element sized `width`×`height` with a matching viewBox.
    public func render(width: Int = 640, height: Int = 400) -> String {
        let w = Double(max(width, 120)), h = Double(max(height, 100))
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" "
            + "width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\" "
            + "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif\">\n"
        out += "<title>\(Self.escape(title))</title>\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"

        // Title, shrunk rather than clipped when it is too long.
        var top = 8.0
        if !title.isEmpty {
            let size = min(15, max(9, (w - 20) / (Double(title.count) * 0.6)))
            out += text(title, x: w / 2, y: top + size, size: size, anchor: "middle", extra: " font-weight=\"600\"")
            top += size + 8
        }
        let legend = legendLayout(width: w)
        out += legend.svg(top: top)
        top += legend.height + 6

        let bottom = 16.0 + (xLabel.isEmpty ? 14 : 32)
        let plotH = max(20, h - top - bottom)
        let segments = series.map(segments(of:))
        let all = segments.flatMap { $0.flatMap { $0 } }

        guard let xs = Self.range(all.map(\.x)), let ys = Self.range(all.map(\.y)) else {
            // Nothing drawable: keep the frame so the figure is still recognisable.
            let left = 20.0 + (yLabel.isEmpty ? 0 : 18), plotW = max(20, w - left - 16)
            out += rect(left, top, plotW, plotH, stroke: "#444444")
            out += text("no data", x: left + plotW / 2, y: top + plotH / 2, size: 14, anchor: "middle",
                        extra: " fill=\"#888888\" dy=\"0.35em\"")
            out += axisLabels(left: left, top: top, plotW: plotW, plotH: plotH, height: h)
            return out + "</svg>\n"
        }

        let yAxis = Axis(lo: ys.lo, hi: ys.hi, log: yLog, maxTicks: max(2, Int(plotH / 28)))
        let yLabelW = yAxis.ticks.compactMap(\.label).map { Self.textWidth($0, size: 11) }.max() ?? 0
        let left = 10 + (yLabel.isEmpty ? 0 : 18) + yLabelW + 8
        var plotW = max(20, w - left - 16)
        let xAxis = Self.fittingXAxis(lo: xs.lo, hi: xs.hi, log: xLog, plotW: plotW)
        // Let the last x tick label hang past the frame without being clipped.
        if let last = xAxis.ticks.last(where: { $0.label != nil && xAxis.fraction($0.value) > 0.999 })?.label {
            plotW = max(20, w - left - max(16, Self.textWidth(last, size: 11) / 2 + 4))
        }
        let frame = Frame(left: left, top: top, width: plotW, height: plotH, x: xAxis, y: yAxis)

        out += grid(frame)
        for (i, s) in series.enumerated() {
            out += draw(s, segments: segments[i], color: Self.color(i), frame: frame)
        }
        out += rect(left, top, plotW, plotH, stroke: "#444444")
        out += tickMarks(frame)
        out += axisLabels(left: left, top: top, plotW: plotW, plotH: plotH, height: h)
        return out + "</svg>\n"
    }
}

// MARK: - Data preparation

extension SVGPlot {
    struct Point { var x: Double; var y: Double }

    /// Splits a series into runs of drawable points.
    func segments(of s: PlotSeries) -> [[Point]] {
        var result: [[Point]] = [], current: [Point] = []
        for i in 0..<min(s.x.count, s.y.count) {
            let x = s.x[i], y = s.y[i]
            if x.isFinite, y.isFinite, !xLog || x > 0, !yLog || y > 0 {
                current.append(Point(x: x, y: y))
            } else if !current.isEmpty {
                result.append(current)
                current = []
            }
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    static func range(_ values: [Double]) -> (lo: Double, hi: Double)? {
        guard let lo = values.min(), let hi = values.max() else { return nil }
        return (lo, hi)
    }

    /// Reduces a pixel-space polyline to at most ~`cap` points, keeping the extremes of every
    /// pixel column so spikes and envelopes survive.
    static func decimate(_ pts: [Point], cap: Int) -> [Point] {
        guard pts.count > cap else { return pts }
        let byColumn = minMaxRuns(pts) { _, p in Int(p.x.rounded(.down)) }
        guard byColumn.count > cap else { return byColumn }
        // x is not monotone (columns revisited): fall back to fixed-size index chunks.
        let chunk = (byColumn.count + cap / 2 - 1) / max(1, cap / 2)
        return minMaxRuns(byColumn) { i, _ in i / chunk }
    }

    /// For each run of consecutive points sharing a key, keeps the lowest and highest point in order.
    static func minMaxRuns(_ pts: [Point], key: (Int, Point) -> Int) -> [Point] {
        var out: [Point] = []
        var start = 0
        while start < pts.count {
            let k = key(start, pts[start])
            var end = start + 1, lo = start, hi = start
            while end < pts.count, key(end, pts[end]) == k {
                if pts[end].y < pts[lo].y { lo = end }
                if pts[end].y > pts[hi].y { hi = end }
                end += 1
            }
            out.append(pts[min(lo, hi)])
            if lo != hi { out.append(pts[max(lo, hi)]) }
            start = end
        }
        return out
    }

    /// Thins a scatter to one marker per pixel, then strides if still above `cap`.
    static func thinMarkers(_ pts: [Point], cap: Int) -> [Point] {
        guard pts.count > cap else { return pts }
        var seen = Set<Int64>(), kept: [Point] = []
        for p in pts {
            let key = Int64(p.x.rounded()) &* 1_000_003 &+ Int64(p.y.rounded())
            if seen.insert(key).inserted { kept.append(p) }
        }
        guard kept.count > cap else { return kept }
        let stride = (kept.count + cap - 1) / cap
        return kept.enumerated().filter { $0.offset % stride == 0 }.map(\.element)
    }
}

// MARK: - Ticks

extension SVGPlot {
    struct Tick { var value: Double; var label: String?; var major: Bool }

    /// An axis whose range is widened to the outermost "nice" ticks.
    struct Axis {
        var lo: Double, hi: Double, log: Bool
        var ticks: [Tick]

        init(lo dataLo: Double, hi dataHi: Double, log: Bool, maxTicks: Int) {
            self.log = log
            var (dataLo, dataHi) = (dataLo, dataHi)
            if log {
                let t = SVGPlot.logTicks(dataLo, dataHi, maxTicks: maxTicks)
                // Consecutive decades: end the axis at the nearest 1, 2 or 5 × 10^k outside the data rather than
                // at the decade, which can leave almost a decade empty at each end.
                let consecutive = t.major.count > 1 && abs(log10(t.major[1] / t.major[0]) - 1) < 1e-9
                var (end0, end1) = (t.major.first ?? dataLo, t.major.last ?? dataHi)
                if consecutive, let a = SVGPlot.niceLog(dataLo, below: true), let b = SVGPlot.niceLog(dataHi, below: false), b > a {
                    (end0, end1) = (a, b)
                }
                let inside = { (v: Double) in v >= end0 * (1 - 1e-9) && v <= end1 * (1 + 1e-9) }
                let major = t.major.filter(inside), minor = t.minor.filter(inside)
                let exps = major.map { Int(log10($0).rounded()) }
                let plain = (exps + [Int(log10(end0).rounded(.down)), Int(log10(end1).rounded(.down))]).allSatisfy { (-3...4).contains($0) }
                ticks = zip(major, exps).map { Tick(value: $0, label: SVGPlot.powerLabel($1, plain: plain), major: true) }
                // Within a couple of decades also label 2 and 5 so the axis has enough readable values; always
                // when fewer than two decades are inside it.
                let twoAndFive = minor.filter { v in
                    let m = Int((v / pow(10, log10(v).rounded(.down))).rounded())
                    return m == 2 || m == 5
                }
                let labelMinor = consecutive && (major.count < 2 || major.count + twoAndFive.count <= maxTicks)
                ticks += minor.map { v in
                    let k = Int(log10(v).rounded(.down)), m = Int((v / pow(10, Double(k))).rounded())
                    let label = labelMinor && (m == 2 || m == 5) ? SVGPlot.mantissaLabel(m, k, plain: plain) : nil
                    return Tick(value: v, label: label, major: false)
                }
                dataLo = min(dataLo, end0); dataHi = max(dataHi, end1)
            } else {
                let values = SVGPlot.linearTicks(dataLo, dataHi, maxTicks: maxTicks)
                let step = values.count > 1 ? values[1] - values[0] : 1
                let scale = values.map(abs).max() ?? 1
                ticks = values.map { Tick(value: $0, label: SVGPlot.linearLabel($0, step: step, scale: scale), major: true) }
            }
            let majors = ticks.filter(\.major).map(\.value)
            lo = min(dataLo, majors.min() ?? dataLo)
            hi = max(dataHi, majors.max() ?? dataHi)
            if !(hi > lo) { hi = log ? lo * 10 : lo + 1 }
        }

        /// Position of `v` along the axis, 0 at `lo` and 1 at `hi`.
        func fraction(_ v: Double) -> Double {
            log ? (log10(v) - log10(lo)) / (log10(hi) - log10(lo)) : (v - lo) / (hi - lo)
        }
    }

    /// Picks the most ticks whose labels still fit side by side along a horizontal axis.
    static func fittingXAxis(lo: Double, hi: Double, log: Bool, plotW: Double) -> Axis {
        var n = max(2, Int(plotW / 50))
        while true {
            let axis = Axis(lo: lo, hi: hi, log: log, maxTicks: n)
            let labels = axis.ticks.compactMap(\.label)
            let needed = labels.map { textWidth($0, size: 11) + 14 }.reduce(0, +)
            if needed <= plotW || n <= 2 { return axis }
            n -= 1
        }
    }

    /// Multiples of 1, 2 or 5 × 10^k covering [lo, hi] with at most `maxTicks` values.
    static func linearTicks(_ lo: Double, _ hi: Double, maxTicks: Int = 10) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        var (lo, hi) = (min(lo, hi), max(lo, hi))
        if hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        guard (hi - lo).isFinite else { return [lo, hi] }
        let n = max(2, maxTicks)
        var k = Int(floor(log10((hi - lo) / Double(n))))
        for _ in 0..<64 {
            for m in [1.0, 2, 5] {
                // Scaling by 10^k through division keeps decimals like 0.3 exact.
                let scale = pow(10, Double(abs(k)))
                let value = { (i: Double) in k >= 0 ? i * m * scale : i * m / scale }
                let step = value(1)
                let a = floor(lo / step + 1e-9), b = ceil(hi / step - 1e-9)
                if b - a + 1 <= Double(n) {
                    return stride(from: a, through: b, by: 1).map { value($0) + 0 }  // + 0 turns -0 into 0
                }
            }
            k += 1
        }
        return [lo, hi]
    }

    /// Powers of ten covering [lo, hi] (every d-th decade when there are too many),
    /// plus the in-between values (2…9 × 10^k, or the skipped decades) as minor ticks.
    static func logTicks(_ lo: Double, _ hi: Double, maxTicks: Int = 10) -> (major: [Double], minor: [Double]) {
        guard lo > 0, hi > 0, lo.isFinite, hi.isFinite else { return ([], []) }
        var kLo = Int(floor(log10(min(lo, hi)) + 1e-9)), kHi = Int(ceil(log10(max(lo, hi)) - 1e-9))
        if kHi <= kLo {
            kLo -= 1
            kHi += 1
        }
        // Stay where 10^k is a positive finite Double.
        kLo = max(kLo, -323)
        kHi = min(max(kHi, kLo + 1), 308)
        let n = max(2, maxTicks)
        var d = 1
        for candidate in [1, 2, 3, 5, 10, 20, 50, 100] {
            d = candidate
            if floorDiv(kHi + d - 1, d) - floorDiv(kLo, d) + 1 <= n { break }
        }
        var a = floorDiv(kLo, d) * d, b = floorDiv(kHi + d - 1, d) * d
        while a < -323 { a += d }
        while b > 308 { b -= d }
        let major = stride(from: a, through: b, by: d).map { pow(10, Double($0)) }
        var minor: [Double] = []
        if d == 1 {
            for k in a..<b { for m in 2...9 { minor.append(Double(m) * pow(10, Double(k))) } }
        } else if (b - a) <= 60 {
            minor = (a...b).filter { $0 % d != 0 }.map { pow(10, Double($0)) }
        }
        return (major, minor)
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { Int((Double(a) / Double(b)).rounded(.down)) }

    /// The nearest 1, 2 or 5 × 10^k at or below (or above) a positive v; nil outside Double's decades.
    static func niceLog(_ v: Double, below: Bool) -> Double? {
        guard v > 0, v.isFinite else { return nil }
        let k = Int(floor(log10(v) + 1e-12))
        guard (-322...307).contains(k) else { return nil }
        let candidates = [-1, 0, 1].flatMap { dk in [1.0, 2, 5].map { $0 * pow(10, Double(k + dk)) } }.sorted()
        let tolerance = 1e-9 * v
        return below ? candidates.last { $0 <= v + tolerance } : candidates.first { $0 >= v - tolerance }
    }
}

// MARK: - Number and text formatting

extension SVGPlot {
    /// Coordinates with at most two decimals and no trailing zeros, to keep files small.
    static func fmt(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        if r == r.rounded(), abs(r) < 1e15 { return String(Int(r)) }
        return trimZeros(String(format: "%.2f", r))
    }

    static func trimZeros(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = s
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return t
    }

    /// Tick label for a linear axis: as many decimals as the step needs, exponent form for
    /// very large or very small scales (e.g. "0.5", "1200", "2.5e-6").
    static func linearLabel(_ v: Double, step: Double, scale: Double) -> String {
        if v == 0 { return "0" }
        let stepExp = Int(floor(log10(abs(step)) + 1e-9))
        if scale >= 1e5 || scale < 1e-3 {
            let e = Int(floor(log10(abs(v)) + 1e-9))
            let digits = max(0, e - stepExp)
            let mantissa = trimZeros(String(format: "%.\(digits)f", v / pow(10, Double(e))))
            return "\(mantissa)e\(e)"
        }
        return trimZeros(String(format: "%.\(max(0, -stepExp))f", v))
    }

    /// "0.001" … "10000" when every decade on the axis is short to write, else "1e-6" (and "1" for 10^0).
    static func powerLabel(_ k: Int, plain: Bool) -> String { mantissaLabel(1, k, plain: plain) }

    static func mantissaLabel(_ m: Int, _ k: Int, plain: Bool) -> String {
        guard plain else { return k == 0 ? "\(m)" : m == 1 ? "1e\(k)" : "\(m)e\(k)" }
        return k >= 0 ? "\(m)" + String(repeating: "0", count: k)
                      : "0." + String(repeating: "0", count: -k - 1) + "\(m)"
    }

    /// Escapes text for XML and HTML content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Rough rendered width of sans-serif text; used only for layout decisions.
    static func textWidth(_ s: String, size: Double) -> Double { Double(s.count) * size * 0.6 }
}

// MARK: - Drawing

extension SVGPlot {
    struct Frame {
        var left, top, width, height: Double
        var x, y: Axis
        func px(_ v: Double) -> Double { left + x.fraction(v) * width }
        func py(_ v: Double) -> Double { top + (1 - y.fraction(v)) * height }
    }

    func text(_ s: String, x: Double, y: Double, size: Double, anchor: String, extra: String = "") -> String {
        "<text x=\"\(Self.fmt(x))\" y=\"\(Self.fmt(y))\" font-size=\"\(Self.fmt(size))\" "
            + "text-anchor=\"\(anchor)\"\(extra)>\(Self.escape(s))</text>\n"
    }

    func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, stroke: String) -> String {
        "<rect x=\"\(Self.fmt(x))\" y=\"\(Self.fmt(y))\" width=\"\(Self.fmt(w))\" height=\"\(Self.fmt(h))\" "
            + "fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"1\"/>\n"
    }

    static func dashArray(_ style: SeriesStyle) -> String {
        switch style {
        case .dashed: return " stroke-dasharray=\"7 4\""
        case .dotted: return " stroke-dasharray=\"0.5 4\""
        case .line, .points: return ""
        }
    }

    struct Legend {
        var items: [(x: Double, row: Int, name: String, style: SeriesStyle, color: String)]
        var rows: Int
        var height: Double { Double(rows) * 18 }

        func svg(top: Double) -> String {
            var out = ""
            for item in items {
                let cy = top + Double(item.row) * 18 + 9
                if item.style == .points {
                    out += "<circle cx=\"\(SVGPlot.fmt(item.x + 11))\" cy=\"\(SVGPlot.fmt(cy))\" r=\"3.2\" fill=\"\(item.color)\"/>\n"
                } else {
                    out += "<line x1=\"\(SVGPlot.fmt(item.x))\" y1=\"\(SVGPlot.fmt(cy))\" x2=\"\(SVGPlot.fmt(item.x + 22))\" "
                        + "y2=\"\(SVGPlot.fmt(cy))\" stroke=\"\(item.color)\" stroke-width=\"2\" stroke-linecap=\"round\""
                        + "\(SVGPlot.dashArray(item.style))/>\n"
                }
                out += "<text x=\"\(SVGPlot.fmt(item.x + 27))\" y=\"\(SVGPlot.fmt(cy))\" dy=\"0.35em\" font-size=\"12\" "
                    + "fill=\"#222222\">\(SVGPlot.escape(item.name))</text>\n"
            }
            return out
        }
    }

    /// Lays legend entries out in centred rows that wrap at the figure width.
    func legendLayout(width: Double) -> Legend {
        let entries = series.enumerated().map { i, s in
            (name: s.name, style: s.style, color: Self.color(i), w: 27 + Self.textWidth(s.name, size: 12))
        }
        guard !entries.isEmpty else { return Legend(items: [], rows: 0) }
        let gap = 18.0, avail = width - 20
        var rows: [[Int]] = [[]], rowW: [Double] = [0]
        for (i, e) in entries.enumerated() {
            let add = (rows[rows.count - 1].isEmpty ? 0 : gap) + e.w
            if !rows[rows.count - 1].isEmpty, rowW[rowW.count - 1] + add > avail {
                rows.append([i])
                rowW.append(e.w)
            } else {
                rows[rows.count - 1].append(i)
                rowW[rowW.count - 1] += add
            }
        }
        var items: [(x: Double, row: Int, name: String, style: SeriesStyle, color: String)] = []
        for (r, row) in rows.enumerated() {
            var x = max(10, (width - rowW[r]) / 2)
            for i in row {
                let e = entries[i]
                items.append((x, r, e.name, e.style, e.color))
                x += e.w + gap
            }
        }
        return Legend(items: items, rows: rows.count)
    }

    func grid(_ f: Frame) -> String {
        var minor = "", major = ""
        for t in f.x.ticks {
            let x = Self.fmt(f.px(t.value))
            let line = "M\(x) \(Self.fmt(f.top))V\(Self.fmt(f.top + f.height))"
            if t.major { major += line } else { minor += line }
        }
        for t in f.y.ticks {
            let y = Self.fmt(f.py(t.value))
            let line = "M\(Self.fmt(f.left)) \(y)H\(Self.fmt(f.left + f.width))"
            if t.major { major += line } else { minor += line }
        }
        var out = ""
        if !minor.isEmpty { out += "<path d=\"\(minor)\" stroke=\"#eeeeee\" stroke-width=\"0.7\" fill=\"none\"/>\n" }
        if !major.isEmpty { out += "<path d=\"\(major)\" stroke=\"#d9d9d9\" stroke-width=\"1\" fill=\"none\"/>\n" }
        return out
    }

    func tickMarks(_ f: Frame) -> String {
        var marks = "", labels = ""
        let bottom = f.top + f.height
        for t in f.x.ticks {
            let x = f.px(t.value), len = t.major ? 5.0 : 3.0
            marks += "M\(Self.fmt(x)) \(Self.fmt(bottom))v\(Self.fmt(len))"
            if let l = t.label { labels += text(l, x: x, y: bottom + 18, size: 11, anchor: "middle") }
        }
        for t in f.y.ticks {
            let y = f.py(t.value), len = t.major ? 5.0 : 3.0
            marks += "M\(Self.fmt(f.left)) \(Self.fmt(y))h\(Self.fmt(-len))"
            if let l = t.label { labels += text(l, x: f.left - 8, y: y, size: 11, anchor: "end", extra: " dy=\"0.35em\"") }
        }
        return "<path d=\"\(marks)\" stroke=\"#444444\" stroke-width=\"1\" fill=\"none\"/>\n"
            + "<g fill=\"#333333\">\n\(labels)</g>\n"
    }

    func axisLabels(left: Double, top: Double, plotW: Double, plotH: Double, height: Double) -> String {
        var out = ""
        if !xLabel.isEmpty {
            out += text(xLabel, x: left + plotW / 2, y: height - 10, size: 12, anchor: "middle", extra: " fill=\"#222222\"")
        }
        if !yLabel.isEmpty {
            let cy = top + plotH / 2
            out += text(yLabel, x: 16, y: cy, size: 12, anchor: "middle",
                        extra: " fill=\"#222222\" transform=\"rotate(-90 16 \(Self.fmt(cy)))\"")
        }
        return out
    }

    /// One polyline per segment (or markers), with the series' share of the point budget.
    func draw(_ s: PlotSeries, segments: [[Point]], color: String, frame f: Frame) -> String {
        let total = segments.reduce(0) { $0 + $1.count }
        guard total > 0 else { return "" }
        let pixels = segments.map { $0.map { Point(x: f.px($0.x), y: f.py($0.y)) } }
        if s.style == .points {
            var out = "<g fill=\"\(color)\" fill-opacity=\"0.85\">\n"
            for p in Self.thinMarkers(pixels.flatMap { $0 }, cap: Self.maxPointsPerSeries) {
                out += "<circle cx=\"\(Self.fmt(p.x))\" cy=\"\(Self.fmt(p.y))\" r=\"3\"/>\n"
            }
            return out + "</g>\n"
        }
        var out = "<g fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\" "
            + "stroke-linecap=\"round\"\(Self.dashArray(s.style))>\n"
        for seg in pixels {
            let cap = max(2, Self.maxPointsPerSeries * seg.count / total)
            var pts = Self.decimate(seg, cap: cap)
            // A lone point keeps its (zero-length) polyline and gets a marker so it is visible.
            if pts.count == 1 {
                pts.append(pts[0])
                out += "<circle cx=\"\(Self.fmt(pts[0].x))\" cy=\"\(Self.fmt(pts[0].y))\" r=\"3\" fill=\"\(color)\" stroke=\"none\"/>\n"
            }
            let coords = pts.map { "\(Self.fmt($0.x)),\(Self.fmt($0.y))" }.joined(separator: " ")
            out += "<polyline points=\"\(coords)\"/>\n"
        }
        return out + "</g>\n"
    }
}
