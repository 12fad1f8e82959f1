import Foundation
import WideNet

/// A self-contained HTML page (inline CSS, inline SVG figures, no scripts) built block by block.
public struct HTMLReport: Sendable {
    public var title: String
    private var blocks: [String] = []

    public init(title: String) {
        self.title = title
    }

    public mutating func heading(_ text: String) {
        blocks.append("<h2>\(SVGPlot.escape(text))</h2>")
    }

    /// A paragraph of plain text; markup in `text` is shown literally.
    public mutating func paragraph(_ text: String) {
        blocks.append("<p>\(SVGPlot.escape(text))</p>")
    }

    /// A two-column key/value table.
    public mutating func keyValues(_ pairs: [(String, String)]) {
        let rows = pairs.map { k, v in "<tr><th scope=\"row\">\(SVGPlot.escape(k))</th><td>\(SVGPlot.escape(v))</td></tr>" }
        blocks.append("<div class=\"scroll\"><table class=\"kv\"><tbody>\n" + rows.joined(separator: "\n")
                      + "\n</tbody></table></div>")
    }

    /// A table; cells that parse as numbers are right-aligned in a monospace font.
    public mutating func table(headers: [String], rows: [[String]]) {
        var html = "<div class=\"scroll\"><table>\n"
        if !headers.isEmpty {
            html += "<thead><tr>" + headers.map { "<th>\(SVGPlot.escape($0))</th>" }.joined() + "</tr></thead>\n"
        }
        html += "<tbody>\n"
        for row in rows {
            html += "<tr>" + row.map { cell in
                Self.isNumeric(cell) ? "<td class=\"num\">\(SVGPlot.escape(cell))</td>" : "<td>\(SVGPlot.escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        blocks.append(html + "</tbody></table></div>")
    }

    public mutating func plot(_ plot: SVGPlot, caption: String? = nil) {
        blocks.append(Self.figure(plot, caption: caption))
    }

    /// Several plots side by side, wrapping onto new rows on narrow screens.
    public mutating func plots(_ plots: [SVGPlot]) {
        blocks.append("<div class=\"plots\">\n" + plots.map { Self.figure($0, caption: nil, width: 520, height: 360) }.joined(separator: "\n")
                      + "\n</div>")
    }

    /// The whole HTML document.
    public func render() -> String {
        let t = SVGPlot.escape(title)
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(t)</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <main>
        <h1>\(t)</h1>
        \(blocks.joined(separator: "\n"))
        </main>
        </body>
        </html>

        """
    }

    /// Writes the rendered document as UTF-8.
    public func write(to url: URL) throws {
        try Data(render().utf8).write(to: url, options: .atomic)
    }

    /// Side-by-side figures are drawn smaller so their text is not shrunk as much when scaled to fit.
    static func figure(_ plot: SVGPlot, caption: String?, width: Int = 640, height: Int = 400) -> String {
        var html = "<figure>\n" + plot.render(width: width, height: height)
        if let caption { html += "<figcaption>\(SVGPlot.escape(caption))</figcaption>\n" }
        return html + "</figure>"
    }

    static func isNumeric(_ cell: String) -> Bool {
        let s = cell.trimmingCharacters(in: .whitespaces)
        return !s.isEmpty && (Double(s) != nil || ["nan", "inf", "-inf", "+inf"].contains(s.lowercased()))
    }

    // Figures are drawn at 640 px; max-width keeps a lone figure from being blown up on wide
    // screens, width 100% lets it shrink on narrow ones.
    static let css = """

    body { margin: 0; background: #f3f4f6; color: #1f2430;
      font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
    main { box-sizing: border-box; max-width: 1120px; margin: 0 auto; padding: 28px 28px 56px;
      background: #fff; min-height: 100vh; }
    h1 { font-size: 1.75rem; line-height: 1.25; margin: 0 0 0.8em; }
    h2 { font-size: 1.25rem; margin: 1.8em 0 0.6em; padding-bottom: 0.25em; border-bottom: 1px solid #e2e5ea; }
    p { margin: 0.6em 0; max-width: 78ch; }
    .scroll { overflow-x: auto; margin: 0.8em 0; }
    table { border-collapse: collapse; font-size: 0.92rem; }
    th, td { padding: 0.3em 0.9em; border-bottom: 1px solid #e2e5ea; text-align: left; vertical-align: top; }
    thead th { background: #f0f2f5; font-weight: 600; border-bottom: 2px solid #d5d9e0; }
    table.kv th { font-weight: 600; color: #444; }
    td.num, table.kv td { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
      font-variant-numeric: tabular-nums; font-size: 0.9em; }
    td.num { text-align: right; white-space: nowrap; }
    figure { margin: 1.2em 0; max-width: 680px; }
    figure svg { display: block; width: 100%; height: auto; }
    figcaption { font-size: 0.9rem; color: #555; margin-top: 0.4em; }
    .plots { display: flex; flex-wrap: wrap; gap: 20px; margin: 1.2em 0; }
    .plots figure { flex: 1 1 420px; min-width: 0; margin: 0; }

    """
}
