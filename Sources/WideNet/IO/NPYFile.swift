import Foundation

// Native reader/writer for numpy's .npy format (NEP 1, numpy.lib.format), restricted to
// little-endian, C-ordered float32/float64 arrays: the only kinds WideNet exchanges.

public enum NPYDType: String, Sendable {
    case float32 = "<f4", float64 = "<f8"

    var itemSize: Int { self == .float32 ? 4 : 8 }
}

/// A .npy array with its values widened to Double, in C (row-major) order.
public struct NPYArray: Sendable {
    public var shape: [Int]
    public var dtype: NPYDType
    public var values: [Double]

    public init(shape: [Int], dtype: NPYDType, values: [Double]) {
        self.shape = shape
        self.dtype = dtype
        self.values = values
    }

    /// Product of `shape`; 1 for a 0-d array.
    public var count: Int { shape.reduce(1, *) }

    public func floats() -> [Float] { values.map { Float($0) } }
}

public struct NPYError: Error, CustomStringConvertible, Equatable {
    /// The path (or name) as given.
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
}

public enum NPY {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads a .npy file. Throws NPYError.
    public static func read(_ url: URL) throws -> NPYArray {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw NPYError(file: url.path, reason: "no such file")
        }
        if isDirectory.boolValue { throw NPYError(file: url.path, reason: "a directory, not a .npy file") }
        let data: Data
        do {
            // Not memory-mapped: a file truncated by another process while mapped would SIGBUS.
            data = try Data(contentsOf: url)
        } catch {
            // Foundation refuses character devices and names errors by its own codes: the system's reason, or the bytes by a plain read.
            guard let handle = FileHandle(forReadingAtPath: url.path) else {
                throw NPYError(file: url.path, reason: "cannot read file (\(String(cString: strerror(errno))))")
            }
            defer { try? handle.close() }
            guard let bytes = try? handle.readToEnd() ?? Data() else { throw NPYError(file: url.path, reason: "cannot read file") }
            data = bytes
        }
        return try parse(data, name: url.path)
    }

    /// Parses the bytes of a .npy file; `name` only labels errors. Never traps on malformed input.
    public static func parse(_ data: Data, name: String) throws -> NPYArray {
        try data.withUnsafeBytes { raw in try parse(raw, name: name) }
    }

    /// Serializes `values` as a version 1.0 file: Float as <f4, any other type as <f8.
    public static func encode<T: BinaryFloatingPoint>(_ values: [T], shape: [Int]) -> Data {
        var expected = 1
        for dim in shape {
            precondition(dim >= 0, "NPY.encode: negative dimension in shape \(shape)")
            let (product, overflow) = expected.multipliedReportingOverflow(by: dim)
            precondition(!overflow, "NPY.encode: shape \(shape) overflows")
            expected = product
        }
        precondition(values.count == expected,
                     "NPY.encode: \(values.count) values do not match shape \(shape)")

        // Decide on T, not on a cast: an empty array casts to [Float] whatever its element type.
        if T.self == Float.self, let floats = values as? [Float] {
            var data = header(.float32, shape: shape)
            appendLittleEndian(floats, to: &data)
            return data
        }
        var data = header(.float64, shape: shape)
        let doubles = T.self == Double.self ? values as? [Double] ?? [] : values.map { Double($0) }
        appendLittleEndian(doubles, to: &data)
        return data
    }

    /// Encodes and writes atomically (see AtomicFile).
    public static func write<T: BinaryFloatingPoint>(_ values: [T], shape: [Int], to url: URL) throws {
        try AtomicFile.write(encode(values, shape: shape), to: url)
    }
}

// MARK: - Writing

extension NPY {
    /// Magic, version, header length and the padded header dict, so that data starts at a
    /// multiple of 64 bytes. Version 2.0 (4-byte length) only when 1.0's 2-byte length cannot hold it.
    private static func header(_ dtype: NPYDType, shape: [Int]) -> Data {
        let shapeText = shape.count == 1
            ? "(\(shape[0]),)"
            : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"

        var preamble = 10  // magic (6) + version (2) + UInt16 length
        var total = (preamble + dict.utf8.count + 1 + 63) / 64 * 64  // +1 for the final '\n'
        if total - preamble > 0xFFFF {
            preamble = 12  // UInt32 length
            total = (preamble + dict.utf8.count + 1 + 63) / 64 * 64
        }
        let headerLength = total - preamble

        var data = Data(capacity: total)
        data.append(contentsOf: magic)
        data.append(contentsOf: preamble == 10 ? [1, 0] : [2, 0])
        for i in 0..<(preamble - 8) { data.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i))) }
        data.append(contentsOf: Array(dict.utf8))
        data.append(contentsOf: [UInt8](repeating: 0x20, count: headerLength - dict.utf8.count - 1))
        data.append(0x0A)
        return data
    }

    private static func appendLittleEndian(_ values: [Float], to data: inout Data) {
        #if _endian(little)
        values.withUnsafeBufferPointer { data.append($0) }
        #else
        values.map { $0.bitPattern.littleEndian }.withUnsafeBufferPointer { data.append($0) }
        #endif
    }

    private static func appendLittleEndian(_ values: [Double], to data: inout Data) {
        #if _endian(little)
        values.withUnsafeBufferPointer { data.append($0) }
        #else
        values.map { $0.bitPattern.littleEndian }.withUnsafeBufferPointer { data.append($0) }
        #endif
    }
}

// MARK: - Reading

extension NPY {
    private static func parse(_ raw: UnsafeRawBufferPointer, name: String) throws -> NPYArray {
        func fail(_ reason: String) -> NPYError { NPYError(file: name, reason: reason) }

        guard raw.count >= 6, raw.prefix(6).elementsEqual(magic) else {
            throw fail("not a .npy file (bad magic)")
        }
        guard raw.count >= 8 else { throw fail("truncated header (file ends before the version)") }
        let lengthSize: Int
        switch (raw[6], raw[7]) {
        case (1, 0): lengthSize = 2
        case (2, 0), (3, 0): lengthSize = 4
        case let (major, minor):
            throw fail("unsupported .npy version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        let headerStart = 8 + lengthSize
        guard raw.count >= headerStart else {
            throw fail("truncated header (file ends inside the header length)")
        }
        var headerLength = 0
        for i in 0..<lengthSize { headerLength |= Int(raw[8 + i]) << (8 * i) }
        guard headerLength >= 0, headerLength <= raw.count - headerStart else {
            throw fail("truncated header: header length is \(headerLength) bytes "
                       + "but only \(raw.count - headerStart) bytes follow")
        }
        let dataStart = headerStart + headerLength

        // Versions 1.0/2.0 use latin-1 and 3.0 UTF-8; every token that matters is ASCII,
        // so the parser works on bytes and decodes only string contents.
        var parser = HeaderParser(bytes: Array(raw[headerStart..<dataStart]))
        let fields: [(key: String, value: PyValue)]
        do {
            fields = try parser.parseHeader()
        } catch let error as HeaderParser.Failure {
            throw fail("unparsable header (\(error.message))")
        }
        func field(_ key: String) throws -> PyValue {
            guard let value = fields.last(where: { $0.key == key })?.value else {
                throw fail("header has no '\(key)' entry")
            }
            return value
        }

        let dtype: NPYDType
        switch try field("descr") {
        case .string("<f4"), .string("=f4"): dtype = .float32
        case .string("<f8"), .string("=f8"): dtype = .float64  // '=' (native) is only written on little-endian hosts in practice
        case .string(let descr) where descr == ">f4" || descr == ">f8":
            throw fail("big-endian data (\(descr)) is not supported; save little-endian")
        case .string(let descr):
            throw fail("unsupported dtype '\(printable(descr))'; use float32 (<f4) or float64 (<f8)")
        default:
            throw fail("unsupported dtype (structured or non-string descr); use float32 (<f4) or float64 (<f8)")
        }

        switch try field("fortran_order") {
        case .bool(false): break
        case .bool(true):
            throw fail("Fortran-ordered arrays are not supported; save with np.ascontiguousarray")
        default: throw fail("unparsable header ('fortran_order' must be True or False)")
        }

        guard case .tuple(let dims) = try field("shape") else {
            throw fail("unparsable header ('shape' must be a tuple of integers)")
        }
        var shape: [Int] = []
        var count = 1
        for dim in dims {
            guard case .int(let text) = dim else {
                throw fail("unparsable header ('shape' must be a tuple of integers)")
            }
            guard let value = Int(text) else { throw fail("dimension \(printable(text)) in 'shape' is too large") }
            guard value >= 0 else { throw fail("negative dimension \(value) in 'shape'") }
            let (product, overflow) = count.multipliedReportingOverflow(by: value)
            guard !overflow else { throw fail("shape has too many elements (overflow)") }
            shape.append(value)
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else { throw fail("shape has too many elements (\(count) values overflow the byte count)") }

        let available = raw.count - dataStart
        guard available >= byteCount else {
            throw fail("truncated: header says \(count) values (\(byteCount) bytes) but only \(available) bytes follow")
        }
        guard available == byteCount else {
            throw fail("\(available - byteCount) unexpected trailing bytes after the \(count) values (\(byteCount) bytes) the header describes")
        }

        let payload = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
        return NPYArray(shape: shape, dtype: dtype, values: decode(payload, count: count, dtype: dtype))
    }

    /// Bulk decode; the payload may be unaligned inside the file, so it is copied, never reinterpreted in place.
    private static func decode(_ payload: UnsafeRawBufferPointer, count: Int, dtype: NPYDType) -> [Double] {
        [Double](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .float64:
                // One memcpy: the fastest path, in debug builds too.
                if count > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: payload) }
                #if !_endian(little)
                for i in 0..<count { out[i] = Double(bitPattern: UInt64(littleEndian: out[i].bitPattern)) }
                #endif
            case .float32:
                // One pass that widens as it loads; the compiler vectorizes it in release builds.
                for i in 0..<count {
                    let bits = UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                    out[i] = Double(Float(bitPattern: bits))
                }
            }
            initialized = count
        }
    }

    /// Keeps error messages on one line even when the header holds control characters.
    private static func printable(_ s: String) -> String {
        let clean = String(s.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : Character($0) })
        return clean.count > 40 ? String(clean.prefix(40)) + "…" : clean
    }
}

// MARK: - Header dict parser

/// The subset of Python literals a .npy header can contain.
private indirect enum PyValue {
    case string(String)
    case int(String)  // decimal text; converted later so overflow gets its own message
    case bool(Bool)
    case none
    case tuple([PyValue])  // tuples and lists
    case dict([(key: String, value: PyValue)])
}

/// Recursive descent over the header bytes; depth-limited so hostile input cannot exhaust the stack.
private struct HeaderParser {
    struct Failure: Error { let message: String }

    let bytes: [UInt8]
    var pos = 0
    static let maxDepth = 32

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseHeader() throws -> [(key: String, value: PyValue)] {
        guard case .dict(let fields) = try value(depth: 0) else { throw Failure(message: "not a dict") }
        skipSpace()
        // numpy pads with spaces and a final '\n'; some writers pad with NULs.
        while pos < bytes.count, bytes[pos] == 0 { pos += 1 }
        guard pos == bytes.count else { throw failure("unexpected text after the dict") }
        return fields
    }

    private func failure(_ what: String) -> Failure { Failure(message: "\(what) at byte \(pos)") }

    private mutating func skipSpace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1  // space, tab, newline, carriage return
            default: return
            }
        }
    }

    /// Consumes `byte` (after whitespace) if it is next.
    private mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == byte else { return false }
        pos += 1
        return true
    }

    private mutating func value(depth: Int) throws -> PyValue {
        guard depth < Self.maxDepth else { throw failure("nested too deeply") }
        skipSpace()
        guard pos < bytes.count else { throw failure("unexpected end") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var fields: [(key: String, value: PyValue)] = []
            try sequence(close: UInt8(ascii: "}")) { parser in
                guard case .string(let key) = try parser.value(depth: depth + 1) else {
                    throw parser.failure("dict key is not a string")
                }
                guard parser.take(UInt8(ascii: ":")) else { throw parser.failure("expected ':'") }
                fields.append((key, try parser.value(depth: depth + 1)))
            }
            return .dict(fields)
        case UInt8(ascii: "("), UInt8(ascii: "["):
            let close = bytes[pos] == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
            pos += 1
            var items: [PyValue] = []
            try sequence(close: close) { parser in items.append(try parser.value(depth: depth + 1)) }
            return .tuple(items)
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .int(try integer())
        default:
            for (word, result) in [("True", PyValue.bool(true)), ("False", .bool(false)), ("None", .none)]
            where bytes[pos...].starts(with: word.utf8) {
                pos += word.utf8.count
                return result
            }
            throw failure("unexpected character")
        }
    }

    /// Comma-separated items up to `close`; a trailing comma is allowed.
    private mutating func sequence(close: UInt8, item: (inout HeaderParser) throws -> Void) throws {
        while true {
            if take(close) { return }
            try item(&self)
            if take(close) { return }
            guard take(UInt8(ascii: ",")) else { throw failure("expected ',' or closing bracket") }
        }
    }

    private mutating func string() throws -> String {
        let quote = bytes[pos]
        pos += 1
        var content: [UInt8] = []
        while pos < bytes.count, bytes[pos] != quote {
            // Escapes only need to not end the string early; dtype names never contain them.
            if bytes[pos] == UInt8(ascii: "\\"), pos + 1 < bytes.count { pos += 1 }
            content.append(bytes[pos])
            pos += 1
        }
        guard pos < bytes.count else { throw failure("unterminated string") }
        pos += 1
        return String(decoding: content, as: UTF8.self)
    }

    private mutating func integer() throws -> String {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") || bytes[pos] == UInt8(ascii: "+") { pos += 1 }
        let digitsStart = pos
        while pos < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[pos]) { pos += 1 }
        guard pos > digitsStart else { throw failure("expected digits") }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        // Python 2 era files wrote longs as `3L`.
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "L") || bytes[pos] == UInt8(ascii: "l") { pos += 1 }
        return text
    }
}
