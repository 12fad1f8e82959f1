import Foundation

/// Parses JSON into `JSONValue`, keeping the order of object keys, so files a run wrote read back
/// into the same objects and render the same text (Foundation's parser forgets the order).
/// Integers without a fraction or exponent become `.int`; every other number `.number`.
public struct JSONReader {
    private let bytes: [UInt8]
    private var i = 0

    /// Throws a one-line description of the first problem, with its character offset.
    public static func parse(_ text: String) throws -> JSONValue {
        var reader = JSONReader(bytes: Array(text.utf8))
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.i == reader.bytes.count else { throw reader.error("unexpected text after the value") }
        return value
    }

    /// An object, or an error saying what the text holds instead.
    public static func parseObject(_ text: String) throws -> JSONObject {
        guard case .object(let o) = try parse(text) else { throw WideNetIOError("expected a JSON object") }
        return o
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ what: String) -> WideNetIOError {
        WideNetIOError(i < bytes.count ? "\(what) at character \(i + 1)" : "\(what) at the end of the text")
    }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 512 else { throw error("nesting too deep") }
        guard i < bytes.count else { throw error("expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return .object(try object(depth: depth))
        case UInt8(ascii: "["): return .array(try array(depth: depth))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw error("expected a value") }
        i += w.count
    }

    private mutating func object(depth: Int) throws -> JSONObject {
        var o = JSONObject()
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return o }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key in quotes") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
            i += 1
            skipSpace()
            o[key] = try value(depth: depth + 1)
            skipSpace()
            guard i < bytes.count else { throw error("expected ',' or '}'") }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return o }
            guard bytes[i] == UInt8(ascii: ",") else { throw error("expected ',' or '}'") }
            i += 1
        }
    }

    private mutating func array(depth: Int) throws -> [JSONValue] {
        var items: [JSONValue] = []
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return items }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw error("expected ',' or ']'") }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return items }
            guard bytes[i] == UInt8(ascii: ",") else { throw error("expected ',' or ']'") }
            i += 1
        }
    }

    private mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard i < bytes.count else { throw error("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"): out += Array(String(try unicodeEscape()).utf8)
                default: throw error("unknown escape \\\(Character(Unicode.Scalar(e)))")
                }
            case 0..<0x20: throw error("control character in a string")
            default: out.append(c)
            }
        }
        throw error("unterminated string")
    }

    /// \uXXXX, joining a surrogate pair into one scalar.
    private mutating func unicodeEscape() throws -> Character {
        let high = try hex4()
        if (0xD800..<0xDC00).contains(high) {
            guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                throw error("unpaired surrogate in a \\u escape")
            }
            i += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in a \\u escape") }
            return Character(Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!)
        }
        guard let scalar = Unicode.Scalar(high) else { throw error("unpaired surrogate in a \\u escape") }
        return Character(scalar)
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw error("expected four hex digits after \\u")
        }
        i += 4
        return v
    }

    private mutating func number() throws -> JSONValue {
        let start = i
        var integral = true
        while i < bytes.count {
            let c = bytes[i]
            if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                i += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                integral = false
                i += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        guard !text.isEmpty, text.first != "+" else { i = start; throw error("expected a value") }
        if integral, let v = Int(text) { return .int(v) }
        // Double(_:) also takes "inf" and "nan", which JSON does not; those never reach here.
        guard let v = Double(text), v.isFinite else { i = start; throw error("malformed number '\(text)'") }
        return .number(v)
    }
}

extension JSONValue {
    /// The value as a number: ints and numbers as they are, null as NaN (how runs write non-finite
    /// values); nil for strings, booleans, arrays and objects.
    public var numeric: Double? {
        switch self {
        case .number(let v): return v
        case .int(let v): return Double(v)
        case .null: return .nan
        default: return nil
        }
    }
}
