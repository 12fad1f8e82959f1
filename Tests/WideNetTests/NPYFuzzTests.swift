import Foundation
import Testing
import WideNet

/// The .npy reader on hostile bytes: mutations of valid encodings and pure noise. Every input
/// either throws NPYError or gives an array whose value count is the product of its shape and
/// which encodes and parses back to the same shape, dtype and bits. A trap ends the test process.
@Suite struct NPYFuzzTests {
    /// Fixed, so a failure reproduces; printed with the figures.
    static let seed: UInt64 = 0x00C0_FFEE_0DD5_EED5
    /// Mutated and random inputs beyond the exhaustive truncations.
    static let randomInputs = 150_000

    struct Tally {
        var inputs = 0, accepted = 0, rejected = 0
        var violations: [String] = []

        /// Parses `bytes` and checks the property; `what` names the input in a violation.
        mutating func check(_ bytes: [UInt8], _ what: @autoclosure () -> String) {
            inputs += 1
            let array: NPYArray
            do {
                array = try NPY.parse(Data(bytes), name: "fuzz.npy")
            } catch is NPYError {
                rejected += 1
                return
            } catch {
                record("\(what()): threw \(type(of: error)), not NPYError")
                return
            }
            accepted += 1
            if let problem = NPYFuzzTests.roundTripProblem(array) { record("\(what()): \(problem)") }
        }

        mutating func record(_ violation: String) {
            if violations.count < 10 { violations.append(violation) }
        }
    }

    /// nil when the value count is the shape's product and encode → parse gives the same array back.
    static func roundTripProblem(_ a: NPYArray) -> String? {
        var product = 1
        for dim in a.shape {
            guard dim >= 0 else { return "negative dimension in \(a.shape)" }
            let (p, overflow) = product.multipliedReportingOverflow(by: dim)
            guard !overflow else { return "shape \(a.shape) overflows" }
            product = p
        }
        guard a.values.count == product else { return "\(a.values.count) values for shape \(a.shape)" }
        let encoded = a.dtype == .float32 ? NPY.encode(a.floats(), shape: a.shape) : NPY.encode(a.values, shape: a.shape)
        guard let b = try? NPY.parse(encoded, name: "again.npy") else { return "its own encoding does not parse" }
        guard b.shape == a.shape, b.dtype == a.dtype,
              b.values.map(\.bitPattern) == a.values.map(\.bitPattern) else {
            return "round trip changed the array (shape \(a.shape) → \(b.shape))"
        }
        return nil
    }

    /// Valid encodings: both dtypes, 0-d, empty, 1- to 3-d, and the 2.0 and 3.0 header formats.
    static let seeds: [[UInt8]] = [
        [UInt8](NPY.encode([Float](repeating: 1.5, count: 12), shape: [3, 4])),
        [UInt8](NPY.encode((0..<5).map { Double($0) - 2.5 }, shape: [5])),
        [UInt8](NPY.encode([Double](), shape: [0, 3])),
        [UInt8](NPY.encode([Float(3)], shape: [])),
        [UInt8](NPY.encode((0..<6).map { Float($0) * 0.25 }, shape: [2, 1, 3])),
        file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", version: 2, payload: 16),
        file("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", version: 3, payload: 8),
    ]

    /// A file with header text `header`, padded like numpy, and `payload` zero bytes.
    static func file(_ header: String, version: UInt8, payload: Int) -> [UInt8] {
        var text = Array(header.utf8)
        let preamble = version == 1 ? 10 : 12
        while (preamble + text.count + 1) % 64 != 0 { text.append(0x20) }
        text.append(0x0A)
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        for i in 0..<(preamble - 8) { bytes.append(UInt8(truncatingIfNeeded: text.count >> (8 * i))) }
        return bytes + text + [UInt8](repeating: 0, count: payload)
    }

    /// Header entries that parse, that nearly parse, and that must be refused.
    static let descrs = ["'<f4'", "'<f8'", "'=f8'", "'>f8'", "'>f4'", "'<i8'", "'<c16'", "'|b1'", "'|O'", "'f8'", "''",
                         "'<f8", "[('a', '<f4')]", "3", "None", "'<f8\\''"]
    static let orders = ["False", "True", "0", "None", "'False'", "Fals"]
    static let dims = ["0", "1", "2", "3", "7", "-1", "-0", "+2", "2L", "99999999999999999999", "4294967296",
                       "2305843009213693952", "9223372036854775807", "-9223372036854775808", "'3'", "()", "2.0"]

    /// `count` random bytes, eight per draw.
    static func noise(_ count: Int, _ rng: inout TestRNG) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = rng.next()
            for _ in 0..<min(8, count - i) {
                bytes[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return bytes
    }

    static func randomShape(_ rng: inout TestRNG) -> String {
        let count = Int.random(in: 0...4, using: &rng)
        let items = (0..<count).map { _ in dims.randomElement(using: &rng)! }
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return "(" + items.joined(separator: ", ") + (count == 1 ? ",)" : ")")
        case 1: return "[" + items.joined(separator: ",") + "]"
        case 2: return "(" + items.joined(separator: ", ") + ",)"
        default: return items.first ?? "("
        }
    }

    /// A header with valid entries: little-endian floats, C order, small dimensions; and the
    /// payload size it calls for.
    static func validEntries(_ rng: inout TestRNG) -> (descr: String, order: String, shape: String, payload: Int) {
        let itemSize = Bool.random(using: &rng) ? 4 : 8
        let descr = ["'<f\(itemSize)'", "'=f\(itemSize)'", "\"<f\(itemSize)\""].randomElement(using: &rng)!
        let shape = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Int.random(in: 0...4, using: &rng) }
        let text = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        return (descr, "False", text, shape.reduce(1, *) * itemSize)
    }

    /// A header built from random entries (valid ones half the time), with a payload that fits it,
    /// nearly fits, or not at all.
    static func editedHeader(_ rng: inout TestRNG) -> [UInt8] {
        let valid = validEntries(&rng)
        func pick(_ good: String, _ any: [String]) -> String {
            Int.random(in: 0..<4, using: &rng) == 0 ? any.randomElement(using: &rng)! : good
        }
        var entries = ["'descr': \(pick(valid.descr, descrs))",
                       "'fortran_order': \(pick(valid.order, orders))",
                       "'shape': \(Int.random(in: 0..<4, using: &rng) == 0 ? randomShape(&rng) : valid.shape)"]
        if Int.random(in: 0..<8, using: &rng) == 0 { entries.remove(at: Int.random(in: 0..<3, using: &rng)) }
        if Int.random(in: 0..<8, using: &rng) == 0 { entries.append("'extra': (1, [2, 'x'], None)") }
        entries.shuffle(using: &rng)
        let header = "{" + entries.joined(separator: ", ") + (Bool.random(using: &rng) ? ", }" : "}")
        let version = [UInt8(1), 1, 1, 2, 3, 0, 4, 255].randomElement(using: &rng)!
        let payload = Bool.random(using: &rng) ? valid.payload
            : max(0, valid.payload + [-8, -4, -1, 1, 4, 8, 200].randomElement(using: &rng)!)
        var bytes = file(header, version: version == 1 ? 1 : 2, payload: payload)  // 2-byte length for 1.0, else 4
        bytes[6] = version
        return bytes
    }

    /// Where the values start according to the preamble; nil when it is cut short.
    static func dataStart(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 12 else { return nil }
        let size = bytes[6] == 1 ? 2 : 4
        return 8 + size + (0..<size).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
    }

    static func mutate(_ source: [UInt8], _ rng: inout TestRNG) -> [UInt8] {
        var bytes = source
        let interesting = Array("{}()[],:'\"-+0123456789LTFN \n".utf8) + [0, 0x7F, 0x80, 0xFF]
        for _ in 0...Int.random(in: 0...2, using: &rng) {
            switch Int.random(in: 0..<8, using: &rng) {
            case 7:  // a bit of the values
                guard let start = dataStart(bytes), start < bytes.count else { continue }
                bytes[Int.random(in: start..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 0 where !bytes.isEmpty:  // bit flips
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1:  // byte insertion
                let at = Int.random(in: 0...bytes.count, using: &rng)
                bytes.insert(Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng), at: at)
            case 2 where !bytes.isEmpty:  // byte deletion
                bytes.remove(at: Int.random(in: 0..<bytes.count, using: &rng))
            case 3 where !bytes.isEmpty:  // truncation
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            case 4 where bytes.count > 12:  // header length field
                let field = bytes[6] == 1 ? 8..<10 : 8..<12
                for i in field { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
                if Bool.random(using: &rng) { bytes[field.lowerBound] = UInt8(truncatingIfNeeded: Int(bytes[field.lowerBound]) + Int.random(in: -2...2, using: &rng)) }
            case 5 where bytes.count > 8:  // version bytes
                bytes[6 + Int.random(in: 0...1, using: &rng)] = UInt8.random(in: 0...4, using: &rng)
            default:  // a header character replaced by punctuation or a digit
                guard bytes.count > 10 else { continue }
                let end = min(bytes.count, dataStart(bytes) ?? bytes.count)
                guard end > 10 else { continue }
                bytes[Int.random(in: 10..<end, using: &rng)] = interesting.randomElement(using: &rng)!
            }
        }
        return bytes
    }

    @Test func mutatedAndRandomInputsNeverTrap() {
        var rng = TestRNG(seed: Self.seed)
        var tally = Tally()
        let started = Date()

        // Every truncation of every valid encoding.
        for (s, source) in Self.seeds.enumerated() {
            for length in 0...source.count { tally.check(Array(source.prefix(length)), "seed \(s) cut to \(length) bytes") }
        }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        for i in 0..<Self.randomInputs {
            let bytes: [UInt8]
            switch i % 8 {
            case 0:  // noise
                bytes = Self.noise(Int.random(in: 0...200, using: &rng), &rng)
            case 1:  // noise behind a valid magic and version, so it reaches the header parser
                bytes = magic + [UInt8.random(in: 1...3, using: &rng), 0]
                    + Self.noise(Int.random(in: 0...200, using: &rng), &rng)
            case 2, 3:
                bytes = Self.editedHeader(&rng)
            case 4:
                bytes = Self.mutate(Self.editedHeader(&rng), &rng)
            default:
                bytes = Self.mutate(Self.seeds[i % Self.seeds.count], &rng)
            }
            tally.check(bytes, "input \(i) (seed \(Self.seed)): \(bytes.map { String(format: "%02x", $0) }.joined())")
        }

        let seconds = Date().timeIntervalSince(started)
        print(String(format: "NPY fuzz (seed 0x%016llx): %d inputs, %d accepted, %d rejected, %.2f s",
                     Self.seed, tally.inputs, tally.accepted, tally.rejected, seconds))
        #expect(tally.violations.isEmpty, "\(tally.violations.joined(separator: "\n"))")
        #expect(tally.accepted + tally.rejected == tally.inputs)
        // Both outcomes must be exercised, or the generators have stopped reaching the parser.
        #expect(tally.accepted > tally.inputs / 100, "only \(tally.accepted) of \(tally.inputs) inputs parsed")
        #expect(tally.rejected > tally.inputs / 100, "only \(tally.rejected) of \(tally.inputs) inputs were refused")
    }
}
