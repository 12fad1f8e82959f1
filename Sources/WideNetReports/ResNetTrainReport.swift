import Foundation
import WideNet

/// report.html of `widenet resnet --experiment train`: training and test loss (and accuracy) against
/// the updates, each block's Lipschitz bound, and the flow of the test points through depth in the
/// state's first two coordinates, one colour per label.
enum ResNetTrainReport {
    static func html(_ run: RunFiles) throws -> String {
        if run.summary["sweep"]?.displayText == "depth" { return depthSweep(run) }
        if run.summary["experiment"]?.displayText == "boost" { return boost(run) }
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
        let lipschitz = try run.optionalArray("lipschitz.npy")
        if lipschitz == nil { r.paragraph("lipschitz.npy is missing from the run directory: the figure of the blocks' Lipschitz bounds is not drawn.") }
        if let l = lipschitz, !l.values.isEmpty {
            r.plot(SVGPlot(title: "Each block's Lipschitz bound", xLabel: "block l", yLabel: "h‖V_l‖₂‖U_l‖₂", xLog: false, yLog: false,
                           series: [PlotSeries("bound", x: (0..<l.values.count).map(Double.init), y: l.values, style: .points)]),
                   caption: (run.summary["scheme"]?.displayText == "revnet"
                       ? "Each of a RevNet block's two half-steps (y by F_l of (0, z), then z by F_l of (y, 0)) moves points by at most 1 + this "
                         + "times their distance (σ′ ≤ 1); lipschitz_product bounds the whole map x_0 → x_L, and revnet_reconstruction_error "
                         + "is the largest difference between the flow's states and those rebuilt from x_L alone by inverting the blocks."
                       : "The block x ↦ x + hV_lσ(U_l x + c_l) moves points by at most 1 + this times their distance (σ′ ≤ 1); "
                         + "lipschitz_product bounds the whole map x_0 → x_L."))
        }
        let flow = try run.optionalArray("flow.npy"), labels = try run.optionalArray("flow_labels.npy")
        if (flow == nil || labels == nil), (run.summary["flow_points"]?.numeric ?? 0) > 0 {
            r.paragraph("flow.npy or flow_labels.npy is missing from the run directory: the flow figure is not drawn.")
        }
        if let flow, flow.shape.count == 3, flow.shape[2] >= 2, let labels, labels.values.count >= flow.shape[1] {
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

    /// A depth sweep: the final losses against L, and the gap between the learned maps of successive
    /// depths against h on log-log axes with its fitted order.
    static func depthSweep(_ run: RunFiles) -> String {
        var r = HTMLReport(title: "widenet resnet --experiment train --depths")
        r.heading("Training at growing depth: the learned map's depth limit")
        r.keyValues(run.summary.pairs.filter { !["notes", "map_gap_order"].contains($0.0) }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        let depths = run.summary["depths"]?.numbers ?? []
        let losses = run.summary["final_losses"]?.numbers ?? [], tests = run.summary["final_test_losses"]?.numbers ?? []
        r.plot(SVGPlot(title: "Final loss against depth", xLabel: "depth L", yLabel: "½·mean (f − y)²", xLog: true, yLog: true,
                       series: [PlotSeries("training", x: depths, y: losses, style: .points), PlotSeries("test", x: depths, y: tests, style: .points)]),
               caption: "The same training (task, seed, updates, optimiser) at each depth, h = T/L.")
        let h = run.summary["map_gap_h"]?.numbers ?? [], gaps = run.summary["map_gaps"]?.numbers ?? []
        var series = [PlotSeries("‖f_L − f_next‖", x: h, y: gaps, style: .points)]
        var caption = "RMS difference of the learned outputs on the first test points between each depth and the next of the list."
        if case .object(let o)? = run.summary["map_gap_order"], let p = o["order"]?.numeric, let c = o["intercept"]?.numeric,
           let lo = h.min(), let hi = h.max() {
            series.append(PlotSeries(String(format: "fit: order %.2f", p), x: [lo, hi],
                                     y: [Foundation.exp(c) * Foundation.pow(lo, p), Foundation.exp(c) * Foundation.pow(hi, p)], style: .dashed))
            caption += String(format: " Fitted order %.3f, 95 %% interval (Student's t) ", p) + ResNetReport.intervalText(run.summary["map_gap_order"]) + "."
        }
        r.plot(SVGPlot(title: "Learned maps of successive depths against h", xLabel: "h = T/L", yLabel: "RMS gap", xLog: true, yLog: true,
                       series: series), caption: caption)
        return r.render()
    }

    /// Boosting against layer-by-layer GD: the loss against the number of blocks on log-log axes,
    /// with each fitted rate, and boosting's line-searched steps.
    static func boost(_ run: RunFiles) -> String {
        var r = HTMLReport(title: "widenet resnet --experiment boost")
        r.heading("Residual blocks one at a time: functional-gradient boosting and layer-by-layer GD")
        r.keyValues(run.summary.pairs.filter { !["notes", "boost_rate", "layerwise_rate"].contains($0.0) }.map { ($0.0, $0.1.displayText) })
        for note in run.notes { r.paragraph(note) }
        func column(_ key: String) -> (x: [Double], y: [Double]) {
            var xs: [Double] = [], ys: [Double] = []
            for row in run.metrics {
                if let k = row["step"]?.numeric, k >= 1, let v = row[key]?.numeric, v.isFinite, v > 0 { xs.append(k); ys.append(v) }
            }
            return (xs, ys)
        }
        var rates: [String] = [], reasons: [String] = []
        for (key, name) in [("boost_rate", "boosting"), ("layerwise_rate", "layer by layer")] {
            if case .object(let o)? = run.summary[key], let a = o["rate"]?.numeric {
                var t = String(format: "%@: loss ∝ k^−α with α = %.3f", name, a)
                t += " " + ResNetReport.intervalText(run.summary[key], reasons: &reasons)
                rates.append(t)
            }
        }
        let b = column("loss"), bt = column("test_loss"), l = column("layerwise_loss"), lt = column("layerwise_test_loss")
        r.plot(SVGPlot(title: "Loss against the number of blocks", xLabel: "blocks k", yLabel: "½·mean (f − y)²", xLog: true, yLog: true,
                       series: [PlotSeries("boosting, training", x: b.x, y: b.y), PlotSeries("boosting, test", x: bt.x, y: bt.y, style: .dashed),
                                PlotSeries("layer by layer, training", x: l.x, y: l.y), PlotSeries("layer by layer, test", x: lt.x, y: lt.y, style: .dashed)]),
               caption: "Each step adds one block with the same random hidden weights to both. Boosting fits the block's V to the negative "
                   + "functional gradient by least squares and takes the loss-minimising step; layer by layer trains the new block and the "
                   + "read-out by GD with the earlier blocks frozen. Fitted, with 95 % Student-t intervals (not identified with fewer than 4 logged block counts): " + (rates.isEmpty ? "-" : rates.joined(separator: "; ")) + "."
                   + (reasons.isEmpty ? "" : " Not identified: " + reasons.joined(separator: "; ") + "."))
        let e = column("eta")
        if !e.x.isEmpty {
            r.plot(SVGPlot(title: "Boosting's line-searched step", xLabel: "block k", yLabel: "η_k", xLog: false, yLog: false,
                           series: [PlotSeries("η_k", x: e.x, y: e.y, style: .points)]),
                   caption: "The step of the least-squares direction that minimises the loss (a Frank–Wolfe step with exact line search).")
        }
        return r.render()
    }
}
