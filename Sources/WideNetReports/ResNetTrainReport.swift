import Foundation
import WideNet

/// report.html of `widenet resnet --experiment train`: training and test loss (and accuracy) against
/// the updates, each block's Lipschitz bound, and the flow of the test points through depth in the
/// state's first two coordinates, one colour per label.
enum ResNetTrainReport {
    static func html(_ run: RunFiles) throws -> String {
        var r = HTMLReport(title: "widenet resnet --experiment train")
        r.heading("A ResNet of depth \(run.summary["depth"]?.displayText ?? "?") trained by backpropagation")
        r.keyValues(run.summary.pairs.filter { $0.0 != "notes" }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        func column(_ key: String) -> (x: [Double], y: [Double]) {
            var xs: [Double] = [], ys: [Double] = []
            for row in run.metrics {
                if let s = row["step"]?.numeric, let v = row[key]?.numeric, v.isFinite { xs.append(s); ys.append(v) }
            }
            return (xs, ys)
        }
        let train = column("loss"), test = column("test_loss")
        var series = [PlotSeries("training loss", x: train.x, y: train.y)]
        if !test.x.isEmpty { series.append(PlotSeries("test loss", x: test.x, y: test.y, style: .dashed)) }
        r.plot(SVGPlot(title: "Loss against updates", xLabel: "update", yLabel: "½·mean (f − y)²", xLog: false, yLog: true, series: series),
               caption: "The loss on the training points and on the held-out test points.")
        let accuracy = column("accuracy"), testAccuracy = column("test_accuracy")
        if !accuracy.x.isEmpty {
            r.plot(SVGPlot(title: "Accuracy against updates", xLabel: "update", yLabel: "fraction with sign(f) = y", xLog: false, yLog: false,
                           series: [PlotSeries("training", x: accuracy.x, y: accuracy.y),
                                    PlotSeries("test", x: testAccuracy.x, y: testAccuracy.y, style: .dashed)]),
                   caption: "Labels ±1; a point counts as right when the output's sign is its label.")
        }
        if let l = try? run.array("lipschitz.npy"), !l.values.isEmpty {
            r.plot(SVGPlot(title: "Each block's Lipschitz bound", xLabel: "block l", yLabel: "h‖V_l‖₂‖U_l‖₂", xLog: false, yLog: false,
                           series: [PlotSeries("bound", x: (0..<l.values.count).map(Double.init), y: l.values, style: .points)]),
                   caption: "The block x ↦ x + hV_lσ(U_l x + c_l) moves points by at most 1 + this times their distance (σ′ ≤ 1); "
                       + "lipschitz_product bounds the whole map x_0 → x_L.")
        }
        if let flow = try? run.array("flow.npy"), flow.shape.count == 3, flow.shape[2] >= 2,
           let labels = try? run.array("flow_labels.npy") {
            r.plot(flowPlot(flow, labels: labels.values), caption: "Each line is one test point through the blocks x_0 → x_L "
                + "(the state's first two coordinates); dots mark the end points, one series per label.")
        }
        return r.render()
    }

    /// One line per point through the blocks in coordinates (1, 2), grouped by label.
    static func flowPlot(_ t: NPYArray, labels: [Double]) -> SVGPlot {
        let (steps, points, dim) = (t.shape[0], t.shape[1], t.shape[2])
        var series: [PlotSeries] = []
        let classes = Array(Set(labels.map { $0 >= 0 ? 1.0 : -1.0 })).sorted()
        for c in classes {
            var xs: [Double] = [], ys: [Double] = [], ex: [Double] = [], ey: [Double] = []
            for p in 0..<points where (labels[p] >= 0 ? 1.0 : -1.0) == c {
                for l in 0..<steps {
                    xs.append(t.values[(l * points + p) * dim]); ys.append(t.values[(l * points + p) * dim + 1])
                }
                xs.append(.nan); ys.append(.nan)
                ex.append(t.values[((steps - 1) * points + p) * dim]); ey.append(t.values[((steps - 1) * points + p) * dim + 1])
            }
            let name = classes.count == 1 ? "points" : "label \(c > 0 ? "+1" : "−1")"
            series.append(PlotSeries(name, x: xs, y: ys))
            series.append(PlotSeries("\(name) at x_L", x: ex, y: ey, style: .points))
        }
        return SVGPlot(title: "Flow of the test points through depth (L = \(steps - 1))", xLabel: "x₁", yLabel: "x₂", xLog: false, yLog: false,
                       series: series)
    }
}
