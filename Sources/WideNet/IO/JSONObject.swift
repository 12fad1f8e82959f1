import Foundation

/// A JSON value with ordered keys, so config.json and metrics rows read in a stable, meaningful
/// order. Non-finite numbers become null (JSON has no NaN).
public indirect enum JSONValue: Sendable, Equatable {
    case number(Double), int(Int), string(String), bool(Bool), null
    case array([JSONValue]), object(JSONObject)

    public func render(pretty: Bool = false, indent: Int = 0) -> String {
        switch self {
        case .number(let v):
            guard v.isFinite else { return "null" }
            if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
            return "\(v)"
        case .int(let v): return String(v)
        case .string(let s): return JSONValue.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            return "[" + items.map { $0.render(pretty: false, indent: 0) }.joined(separator: ", ") + "]"
        case .object(let o): return o.render(pretty: pretty, indent: indent)
        }
    }

    /// For people: strings without quotes, everything else as JSON.
    /// A number as Double (ints too); nil for anything else.
    public var doubleValue: Double? {
        switch self {
        case .number(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    /// Every number in this value, arrays flattened in order.
    public var numbers: [Double] {
        if case .array(let values) = self { return values.flatMap(\.numbers) }
        return doubleValue.map { [$0] } ?? []
    }

    public var displayText: String {
        if case .string(let s) = self { return s }
        // A fitted figure (FittedValue) reads as its value and 95 % interval, or why it is not identified.
        if case .object(let o) = self, case .bool(let identified)? = o["identified"] {
            if identified, let x = o["value"]?.doubleValue, let lo = o["low"]?.doubleValue, let hi = o["high"]?.doubleValue {
                return String(format: "%.4g [%.4g, %.4g]", x, lo, hi)
            }
            return "not identified: \(o["reason"]?.displayText ?? "no reason given")"
        }
        return render()
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where ch.value < 0x20: out += String(format: "\\u%04x", ch.value)
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }
}

public struct JSONObject: Sendable, Equatable {
    public private(set) var pairs: [(String, JSONValue)] = []
    public init() {}

    public static func == (l: JSONObject, r: JSONObject) -> Bool {
        l.pairs.count == r.pairs.count && zip(l.pairs, r.pairs).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public subscript(key: String) -> JSONValue? {
        get { pairs.first { $0.0 == key }?.1 }
        set {
            if let i = pairs.firstIndex(where: { $0.0 == key }) {
                if let newValue { pairs[i].1 = newValue } else { pairs.remove(at: i) }
            } else if let newValue { pairs.append((key, newValue)) }
        }
    }

    public mutating func set(_ key: String, _ v: Double?) { self[key] = v.map { .number($0) } ?? .null }
    public mutating func set(_ key: String, _ v: Int?) { self[key] = v.map { .int($0) } ?? .null }
    public mutating func set(_ key: String, _ v: String?) { self[key] = v.map { .string($0) } ?? .null }
    public mutating func set(_ key: String, _ v: Bool?) { self[key] = v.map { .bool($0) } ?? .null }
    public mutating func set(_ key: String, _ v: [Double]) { self[key] = .array(v.map { .number($0) }) }
    public mutating func set(_ key: String, _ v: JSONObject) { self[key] = .object(v) }

    /// One line (metrics.jsonl) or indented (config.json, summary.json).
    public func render(pretty: Bool = false, indent: Int = 0) -> String {
        guard !pairs.isEmpty else { return "{}" }
        if !pretty {
            return "{" + pairs.map { "\(JSONValue.quote($0.0)): \($0.1.render(pretty: false, indent: 0))" }
                .joined(separator: ", ") + "}"
        }
        let pad = String(repeating: "  ", count: indent + 1)
        let body = pairs.map { "\(pad)\(JSONValue.quote($0.0)): \($0.1.render(pretty: true, indent: indent + 1))" }
        return "{\n" + body.joined(separator: ",\n") + "\n" + String(repeating: "  ", count: indent) + "}"
    }
}
