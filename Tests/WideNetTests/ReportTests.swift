import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import WideNet
@testable import WideNetReports

/// Collects the elements and the text of `<text>` elements of an SVG document.
private final class SVGScan: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    var failed = false
    private var buffer: String?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        elements.append((elementName, attributeDict))
        if elementName == "text" { buffer = "" }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { buffer? += string }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?) {
        if elementName == "text", let b = buffer { texts.append(b) }
        if elementName == "text" { buffer = nil }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) { failed = true }

    func named(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }

    /// Number of vertices in each polyline.
    var polylineCounts: [Int] {
        named("polyline").map { ($0["points"] ?? "").split(separator: " ").count }
    }
}

private func scan(_ svg: String) -> SVGScan? {
    let delegate = SVGScan()
    let parser = XMLParser(data: Data(svg.utf8))
    parser.delegate = delegate
    return parser.parse() && !delegate.failed ? delegate : nil
}

/// True when `ticks` are evenly spaced multiples of 1, 2 or 5 × 10^k covering [lo, hi].
private func isNiceCover(_ ticks: [Double], _ lo: Double, _ hi: Double) -> Bool {
    guard ticks.count >= 2, let first = ticks.first, let last = ticks.last else { return false }
    let step = ticks[1] - ticks[0]
    let mantissa = step / pow(10, floor(log10(step) + 1e-9))
    let evenly = zip(ticks, ticks.dropFirst()).allSatisfy { abs(($1 - $0) - step) <= 1e-9 * step }
    let multiples = ticks.allSatisfy { abs($0 / step - ($0 / step).rounded()) < 1e-6 }
    return evenly && multiples && [1, 2, 5].contains { abs(mantissa - $0) < 1e-9 }
        && first <= lo + 1e-12 && last >= hi - 1e-12
}

@Suite struct ReportTests {
    @Test func svgIsWellFormedXML() throws {
        let xs = (0..<50).map(Double.init)
        let plot = SVGPlot(title: "Loss <train> & \"test\"", xLabel: "step 'k'", yLabel: "loss < 1",
                           yLog: true,
                           series: [PlotSeries("train", x: xs, y: xs.map { exp(-$0 / 10) }),
                                    PlotSeries("bound", x: xs, y: xs.map { 2 * exp(-$0 / 12) }, style: .dashed),
                                    PlotSeries("eval", x: xs, y: xs.map { 1.5 * exp(-$0 / 11) }, style: .dotted),
                                    PlotSeries("samples", x: [1, 5, 9], y: [0.5, 0.2, 0.1], style: .points)])
        let svg = plot.render(width: 500, height: 320)
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("viewBox=\"0 0 500 320\""))
        let s = try #require(scan(svg))
        #expect(s.named("circle").count >= 3)
        #expect(s.texts.contains("Loss <train> & \"test\""))
        #expect(s.texts.contains("step 'k'"))
    }

    @Test func onePolylinePerSegmentAndLegend() throws {
        let plot = SVGPlot(title: "t", xLabel: "x", yLabel: "y", series: [
            PlotSeries("a & b", x: [0, 1, 2, 3, 4, 5, 6], y: [1, 2, .nan, 3, 4, .infinity, 5]),
            PlotSeries("<c>", x: [0, 1, 2], y: [3, 2, 1], style: .dashed),
        ])
        let svg = plot.render()
        let s = try #require(scan(svg))
        // "a & b": [0,1], [3,4], [6] — a lone point still gets its own (dot-like) polyline.
        #expect(s.polylineCounts.count == 4)
        #expect(s.texts.contains("a & b"))
        #expect(s.texts.contains("<c>"))
        #expect(svg.contains("a &amp; b"))
        #expect(svg.contains("&lt;c&gt;"))
        #expect(!svg.contains("<c>"))
        #expect(svg.contains("stroke-dasharray"))
    }

    @Test func nanSplitsALine() throws {
        let x = (0..<10).map(Double.init)
        var y = x.map { $0 * $0 }
        y[4] = .nan
        let s = try #require(scan(SVGPlot(title: "", xLabel: "", yLabel: "",
                                          series: [PlotSeries("s", x: x, y: y)]).render()))
        #expect(s.polylineCounts == [4, 5])
    }

    @Test func logAxesSkipNonPositiveAndUsePowersOfTen() throws {
        let plot = SVGPlot(title: "log", xLabel: "n", yLabel: "err", xLog: true, yLog: true, series: [
            PlotSeries("e", x: [0, 1, 10, 100, 1000, 2000], y: [5, -1, 3e-4, 2e-2, 0.5, 42]),
        ])
        let s = try #require(scan(plot.render()))
        // x = 0 and y = -1 are dropped; they precede the rest, so one segment remains.
        #expect(s.polylineCounts == [4])
        // y in [3e-4, 42]: the axis ends at 2e-4 and 50 (the nearest 1, 2, 5 × 10^k), not a decade out.
        #expect(s.texts.contains("1e-3") && s.texts.contains("1e1"))
        #expect(!s.texts.contains("1e-4") && !s.texts.contains("1e2"))
        for (lo, hi, end0, end1) in [(8.0, 128.0, 5.0, 200.0), (1.5, 3.2, 1.0, 5.0), (0.011, 0.09, 0.01, 0.1), (3e-4, 42, 2e-4, 50)] {
            let axis = SVGPlot.Axis(lo: lo, hi: hi, log: true, maxTicks: 10)
            #expect(abs(axis.lo / end0 - 1) < 1e-12 && abs(axis.hi / end1 - 1) < 1e-12, "\(lo)...\(hi): axis \(axis.lo)...\(axis.hi)")
            #expect(axis.ticks.compactMap(\.label).count >= 2, "\(lo)...\(hi): \(axis.ticks)")
            #expect(axis.ticks.allSatisfy { $0.value >= axis.lo * (1 - 1e-9) && $0.value <= axis.hi * (1 + 1e-9) })
        }
        // A single value still gets a range around it.
        let point = SVGPlot.Axis(lo: 1, hi: 1, log: true, maxTicks: 10)
        #expect(point.lo < 1 && point.hi > 1)

        let (major, minor) = SVGPlot.logTicks(3e-4, 42)
        #expect(major.first.map { $0 <= 3e-4 } == true)
        #expect(major.last.map { $0 >= 42 } == true)
        #expect(major.allSatisfy { abs(log10($0) - log10($0).rounded()) < 1e-12 })
        #expect(minor.contains { abs($0 - 0.002) < 1e-15 })

        // Many decades: every d-th power is labelled and the ticks still cover the data.
        let wide = SVGPlot.logTicks(1e-30, 3, maxTicks: 8)
        #expect(wide.major.count <= 8)
        #expect(wide.major.first.map { $0 <= 1e-30 } == true)
        #expect(wide.major.last.map { $0 >= 3 } == true)
    }

    @Test func allNaNSeriesSaysNoData() throws {
        let plot = SVGPlot(title: "empty", xLabel: "x", yLabel: "y", yLog: true, series: [
            PlotSeries("nan", x: [1, 2, 3], y: [.nan, .nan, .nan]),
            PlotSeries("negative", x: [1, 2], y: [-1, 0]),
        ])
        let s = try #require(scan(plot.render()))
        #expect(s.texts.contains("no data"))
        #expect(s.polylineCounts.isEmpty)
        #expect(try #require(scan(SVGPlot(title: "", xLabel: "", yLabel: "").render())).texts.contains("no data"))
    }

    @Test func decimationCapsLongSeries() throws {
        let n = 100_000
        let x = (0..<n).map(Double.init)
        let y = x.map { sin($0 / 3000) + 0.1 * sin($0 * 1.7) }
        for xLog in [false, true] {
            let plot = SVGPlot(title: "", xLabel: "", yLabel: "", xLog: xLog, series: [PlotSeries("s", x: x, y: y)])
            let svg = plot.render()
            let s = try #require(scan(svg))
            let counts = s.polylineCounts
            #expect(counts.count == 1)
            #expect(counts.allSatisfy { $0 <= SVGPlot.maxPointsPerSeries && $0 > 200 })
            #expect(svg.utf8.count < 60_000)
        }
        // The column extremes survive: a single spike is kept.
        var pts = (0..<10_000).map { SVGPlot.Point(x: Double($0) * 0.05, y: 100) }
        pts[7_777].y = 3
        let thin = SVGPlot.decimate(pts, cap: 2000)
        #expect(thin.count <= 2000)
        #expect(thin.contains { $0.y == 3 })
    }

    @Test func linearTicksAreNice() {
        for (lo, hi) in [(0.013, 0.97), (-3.0, 1234.0), (0.0, 1.0), (1e-7, 3e-6), (5.0, 5.0), (-2.5e6, -1e5)] {
            let ticks = SVGPlot.linearTicks(lo, hi, maxTicks: 10)
            #expect(isNiceCover(ticks, lo, hi), "\(lo)...\(hi): \(ticks)")
            #expect(ticks.count <= 10 && ticks.count >= 3, "\(ticks)")
        }
        #expect(SVGPlot.linearTicks(0.013, 0.97, maxTicks: 10) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(SVGPlot.linearTicks(-3, 1234, maxTicks: 10) == [-200, 0, 200, 400, 600, 800, 1000, 1200, 1400])
        // Degenerate inputs must not trap.
        #expect(SVGPlot.linearTicks(-.greatestFiniteMagnitude, .greatestFiniteMagnitude).count == 2)
        #expect(SVGPlot.linearTicks(.nan, 1).isEmpty)
        #expect(SVGPlot.logTicks(Double.leastNonzeroMagnitude, 1e308).major.allSatisfy { $0 > 0 && $0.isFinite })
        let extreme = SVGPlot(title: "", xLabel: "", yLabel: "", xLog: true, yLog: true,
                              series: [PlotSeries("e", x: [Double.leastNonzeroMagnitude, 1.7e308], y: [1e-300, 1e300])])
        #expect(scan(extreme.render()) != nil)
    }

    @Test func tickLabelsAreCompact() {
        #expect(SVGPlot.linearLabel(0.5, step: 0.1, scale: 1) == "0.5")
        #expect(SVGPlot.linearLabel(1, step: 0.2, scale: 1) == "1")
        #expect(SVGPlot.linearLabel(1200, step: 200, scale: 1400) == "1200")
        #expect(SVGPlot.linearLabel(2.5e-6, step: 5e-7, scale: 3e-6) == "2.5e-6")
        #expect(SVGPlot.linearLabel(4e5, step: 2e5, scale: 1e6) == "4e5")
        #expect(SVGPlot.powerLabel(-3, plain: false) == "1e-3")
        #expect(SVGPlot.powerLabel(-2, plain: true) == "0.01")
        #expect(SVGPlot.powerLabel(3, plain: true) == "1000")
        #expect(SVGPlot.powerLabel(0, plain: false) == "1")
        #expect(SVGPlot.fmt(12.3456) == "12.35")
        #expect(SVGPlot.fmt(-0.001) == "0")
        #expect(SVGPlot.fmt(7) == "7")
    }

    @Test func htmlContainsTitleTextAndFigures() {
        var report = HTMLReport(title: "Run <42> & co")
        report.heading("Setup")
        report.paragraph("width < depth & \"lazy\" regime")
        report.keyValues([("width", "4096"), ("lr", "0.5")])
        report.table(headers: ["n", "loss"], rows: [["128", "1.5e-3"], ["x<y", "nan"]])
        let a = SVGPlot(title: "first plot", xLabel: "x", yLabel: "y", series: [PlotSeries("a", x: [1, 2], y: [1, 2])])
        let b = SVGPlot(title: "second plot", xLabel: "x", yLabel: "y", series: [PlotSeries("b", x: [1, 2], y: [2, 1])])
        let c = SVGPlot(title: "third plot", xLabel: "x", yLabel: "y")
        report.plot(a, caption: "caption & more")
        report.plots([b, c])
        let html = report.render()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<title>Run &lt;42&gt; &amp; co</title>"))
        #expect(html.contains("<h1>Run &lt;42&gt; &amp; co</h1>"))
        #expect(html.contains("<p>width &lt; depth &amp; &quot;lazy&quot; regime</p>"))
        #expect(html.contains("<td class=\"num\">1.5e-3</td>"))
        #expect(html.contains("<td>x&lt;y</td>"))
        #expect(html.contains("caption &amp; more"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 3)
        #expect(html.contains(a.render()))
        for plot in [b, c] { #expect(html.contains(plot.render(width: 520, height: 360))) }
        #expect(!html.contains("<script"))
        #expect(!html.contains("<link") && !html.contains("src="))
    }

    /// Builds a representative report; set WIDENET_SAMPLE_REPORT to a path to keep it for a visual check.
    @Test func sampleReport() throws {
        let steps = (0...3000).map(Double.init)
        let rate = 0.004
        let loss = steps.map { 0.8 * exp(-rate * $0) * (1 + 0.15 * sin($0 / 7)) + 1e-7 }
        let bound = steps.map { exp(-rate * 0.9 * $0) }
        let lossPlot = SVGPlot(title: "Training loss vs. NTK bound", xLabel: "step", yLabel: "loss",
                               yLog: true, series: [PlotSeries("train loss", x: steps, y: loss),
                                                    PlotSeries("bound  exp(−ηλ_min t)", x: steps, y: bound, style: .dashed)])
        let widths = [64.0, 128, 256, 512, 1024, 2048, 4096]
        let dist = widths.enumerated().map { i, w in 3 / sqrt(w) * (1 + 0.08 * sin(Double(i) * 2.1)) }
        let fitted = widths.map { 3 / sqrt($0) }
        let scaling = SVGPlot(title: "Weight movement ‖θ−θ₀‖ vs width", xLabel: "width n", yLabel: "relative change",
                              xLog: true, yLog: true,
                              series: [PlotSeries("measured", x: widths, y: dist, style: .points),
                                       PlotSeries("fit  slope −0.50", x: widths, y: fitted)])
        var report = HTMLReport(title: "Sample experiment report")
        report.paragraph("A two-layer network trained by gradient descent; lines are decimated, axes are logarithmic.")
        report.keyValues([("width", "4096"), ("learning rate", "1.0"), ("steps", "3000")])
        report.heading("Loss")
        report.plot(lossPlot, caption: "Loss on a log scale against the theoretical bound (dashed).")
        report.heading("Scaling")
        report.plots([scaling, lossPlot])
        report.table(headers: ["width", "‖Δθ‖", "fit"], rows: zip(widths, dist).map { ["\(Int($0))", String(format: "%.4g", $1), String(format: "%.4g", 3 / sqrt($0))] })
        let html = report.render()
        #expect(html.contains("Sample experiment report"))
        if let path = ProcessInfo.processInfo.environment["WIDENET_SAMPLE_REPORT"] {
            try report.write(to: URL(fileURLWithPath: path))
        }
    }
}
