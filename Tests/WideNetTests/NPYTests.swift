import Foundation
import Testing
import WideNet

@Suite struct NPYTests {
    // MARK: Helpers

    /// A .npy file with an arbitrary header string; `pad` aligns the data to 64 bytes like numpy.
    static func file(_ header: String, version: UInt8 = 1, payload: [UInt8] = [], pad: Bool = true) -> Data {
        var header = Array(header.utf8)
        let preamble = version == 1 ? 10 : 12
        if pad {
            while (preamble + header.count + 1) % 64 != 0 { header.append(0x20) }
            header.append(0x0A)
        }
        var data = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
        for i in 0..<(preamble - 8) { data.append(UInt8(truncatingIfNeeded: header.count >> (8 * i))) }
        data.append(contentsOf: header)
        data.append(contentsOf: payload)
        return data
    }

    static func bytes(_ values: [Double]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    static func bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }

    static func tempDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("npy-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func sample(_ count: Int) -> [Double] {
        (0..<count).map { i in i == 1 ? -.infinity : Double(i) * 0.375 - 2.5 }
    }

    // MARK: Round trips

    static let shapes: [[Int]] = [[], [0], [5], [3, 4], [2, 3, 4]]

    @Test(arguments: shapes) func roundTripFloat(shape: [Int]) throws {
        let values = Self.sample(shape.reduce(1, *)).map { Float($0) }
        let data = NPY.encode(values, shape: shape)
        #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        #expect(data[9 + headerLength] == 0x0A)

        let array = try NPY.parse(data, name: "mem.npy")
        #expect(array.shape == shape)
        #expect(array.dtype == .float32)
        #expect(array.count == values.count)
        #expect(array.floats() == values)
    }

    @Test(arguments: shapes) func roundTripDouble(shape: [Int]) throws {
        let values = Self.sample(shape.reduce(1, *))
        let array = try NPY.parse(NPY.encode(values, shape: shape), name: "mem.npy")
        #expect(array.shape == shape)
        #expect(array.dtype == .float64)
        #expect(array.values == values)
    }

    @Test func writeAndReadFile() throws {
        let dir = try Self.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a.npy")
        try NPY.write([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], shape: [2, 3], to: url)
        let array = try NPY.read(url)
        #expect(array.shape == [2, 3] && array.values == [1, 2, 3, 4, 5, 6])

        let missing = #expect(throws: NPYError.self) { try NPY.read(dir.appendingPathComponent("nope.npy")) }
        #expect(missing?.file == dir.appendingPathComponent("nope.npy").path)
        #expect(missing?.reason.contains("no such file") == true)
        // A directory, and a character device (which Foundation will not read), are named for what they are.
        let folder = #expect(throws: NPYError.self) { try NPY.read(dir) }
        #expect(folder?.reason.contains("a directory") == true, "\(String(describing: folder))")
        let device = #expect(throws: NPYError.self) { try NPY.read(URL(fileURLWithPath: "/dev/null")) }
        #expect(device.map { !$0.reason.contains("permission") } == true, "\(String(describing: device))")
    }

    // MARK: Header parsing

    @Test(arguments: [UInt8(1), 2, 3]) func versions(version: UInt8) throws {
        // The extra non-ASCII entry exercises 3.0's UTF-8 header; unknown keys are ignored.
        let extra = version == 3 ? "'note': 'λ→∞', " : ""
        let data = Self.file("{'descr': '<f8', 'fortran_order': False, \(extra)'shape': (2,), }",
                             version: version, payload: Self.bytes([1.5, -2.5]))
        let array = try NPY.parse(data, name: "v\(version).npy")
        #expect(array.shape == [2] && array.values == [1.5, -2.5])
    }

    @Test(arguments: [
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "  {  'fortran_order' :False ,'shape':(  2 ,3 , ) ,\t'descr' : \"<f4\" ,  }  ",
        "{'descr': '=f4', 'fortran_order': False, 'shape': (2L, 3L), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
    ])
    func headerVariants(header: String) throws {
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        for pad in [true, false] {
            let array = try NPY.parse(Self.file(header, payload: Self.bytes(values), pad: pad), name: "h.npy")
            #expect(array.shape == [2, 3] && array.dtype == .float32 && array.floats() == values)
        }
    }

    @Test func zeroDimAndEmpty() throws {
        let scalar = try NPY.parse(Self.file("{'descr': '<f8', 'fortran_order': False, 'shape': ()}",
                                             payload: Self.bytes([7.0])), name: "s.npy")
        #expect(scalar.shape == [] && scalar.count == 1 && scalar.values == [7])
        let empty = try NPY.parse(Self.file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3)}"),
                                  name: "e.npy")
        #expect(empty.shape == [0, 3] && empty.count == 0 && empty.values.isEmpty)
    }

    // MARK: Rejections

    static let f8x12 = "{'descr': '<f8', 'fortran_order': False, 'shape': (12,), }"

    static let rejections: [(String, Data, String)] = [
        ("empty", Data(), "not a .npy file (bad magic)"),
        ("text", Data("hello, world".utf8), "not a .npy file (bad magic)"),
        ("version", file(f8x12, version: 4), "unsupported .npy version 4"),
        ("preamble", Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0x40]), "truncated header"),
        ("header", file(f8x12).prefix(30), "truncated header"),
        ("syntax", file("{'descr': '<f8' 'fortran_order': False, 'shape': ()}"), "unparsable header"),
        ("not dict", file("[1, 2]"), "unparsable header"),
        ("junk after", file("{'descr': '<f8', 'fortran_order': False, 'shape': ()} x"), "unparsable header"),
        ("deep", file(String(repeating: "(", count: 500)), "unparsable header"),
        ("unterminated", file("{'descr': '<f8"), "unparsable header"),
        ("shape type", file("{'descr': '<f8', 'fortran_order': False, 'shape': 3}"), "unparsable header"),
        ("no shape", file("{'descr': '<f8', 'fortran_order': False}"), "no 'shape'"),
        ("big f4", file("{'descr': '>f4', 'fortran_order': False, 'shape': ()}"),
         "big-endian data (>f4) is not supported; save little-endian"),
        ("big f8", file("{'descr': '>f8', 'fortran_order': False, 'shape': ()}"), "big-endian"),
        ("fortran", file("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2)}"),
         "Fortran-ordered arrays are not supported; save with np.ascontiguousarray"),
        ("i8", file("{'descr': '<i8', 'fortran_order': False, 'shape': ()}"),
         "unsupported dtype '<i8'; use float32 (<f4) or float64 (<f8)"),
        ("control chars", file("{'descr': '<i8\\n\n', 'fortran_order': False, 'shape': ()}"), "unsupported dtype '<i8"),
        ("b1", file("{'descr': '|b1', 'fortran_order': False, 'shape': ()}"), "unsupported dtype '|b1'"),
        ("c8", file("{'descr': '<c8', 'fortran_order': False, 'shape': ()}"), "unsupported dtype '<c8'"),
        ("object", file("{'descr': '|O', 'fortran_order': False, 'shape': ()}"), "unsupported dtype '|O'"),
        ("structured", file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}"), "unsupported dtype"),
        ("negative", file("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 3)}"), "negative dimension -1"),
        ("huge dim", file("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}"), "too large"),
        ("overflow", file("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"),
         "too many elements"),
        ("byte overflow", file("{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}"),
         "too many elements"),
        ("short data", file(f8x12, payload: Array(repeating: 0, count: 40)),
         "truncated: header says 12 values (96 bytes) but only 40 bytes follow"),
        ("trailing", file(f8x12, payload: Array(repeating: 0, count: 97)), "1 unexpected trailing bytes"),
    ]

    @Test(arguments: rejections) func rejects(label: String, data: Data, expected: String) {
        let error = #expect(throws: NPYError.self, "\(label)") { try NPY.parse(data, name: "bad.npy") }
        guard let error else { return }
        #expect(error.file == "bad.npy")
        #expect(error.reason.contains(expected), "\(label): \(error.reason)")
        #expect(error.description == "bad.npy: \(error.reason)")
        #expect(!error.description.contains("\n"))
    }

    // MARK: Robustness

    /// Deterministic, so a failure reproduces.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Parsing either succeeds consistently or throws NPYError; a trap would kill the test run.
    static func checkParse(_ data: Data) -> Bool {
        do {
            let array = try NPY.parse(data, name: "fuzz.npy")
            return array.values.count == array.count && array.shape.allSatisfy { $0 >= 0 }
        } catch is NPYError {
            return true
        } catch {
            return false
        }
    }

    @Test func fuzz() {
        var rng = SplitMix64(state: 42)
        let magic = [0x93] + Array("NUMPY".utf8)
        var bad = 0
        var accepted = 0

        for i in 0..<2000 {
            var bytes = (0..<Int.random(in: 0...160, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if i % 2 == 0 { bytes = magic + [UInt8.random(in: 1...3, using: &rng), 0] + bytes }
            if !Self.checkParse(Data(bytes)) { bad += 1 }
        }

        let seeds = [
            NPY.encode([Float](repeating: 1.5, count: 12), shape: [3, 4]),
            NPY.encode([Double](repeating: -2, count: 5), shape: [5]),
            NPY.encode([Double](), shape: [0, 3]),
            NPY.encode([Float(3)], shape: []),
            Self.file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", version: 2, payload: Self.bytes([1.0, 2.0])),
        ]
        let interesting = Array("{}()[],:'\"-0123456789LTF \n".utf8) + [0, 0xFF]
        for i in 0..<4000 {
            var bytes = [UInt8](seeds[i % seeds.count])
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:  // bit flips
                for _ in 0...Int.random(in: 0...3, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                }
            case 1:  // truncation
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            case 2:  // header punctuation and digits swapped in
                let at = Int.random(in: 6..<min(bytes.count, 80), using: &rng)
                bytes[at] = interesting.randomElement(using: &rng) ?? 0
            default:  // insertion or deletion, shifting everything after it
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                if Bool.random(using: &rng) { bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at) } else { bytes.remove(at: at) }
            }
            if !Self.checkParse(Data(bytes)) { bad += 1 }
            if (try? NPY.parse(Data(bytes), name: "")) != nil { accepted += 1 }
        }
        #expect(bad == 0)
        #expect(accepted > 0)  // some mutations (e.g. of payload bits) must still parse
    }

    @Test func parsesDataSlices() throws {
        // A Data slice does not start at index 0; parsing must not assume it does.
        let whole = Data([1, 2, 3]) + NPY.encode([Float(1), 2], shape: [2])
        let array = try NPY.parse(whole.dropFirst(3), name: "slice.npy")
        #expect(array.floats() == [1, 2])
    }

    // MARK: AtomicFile

    @Test func atomicFileReplacesAndCleansUp() throws {
        let dir = try Self.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("out.txt")

        try AtomicFile.write("a much longer first version\n", to: url)
        try AtomicFile.write("second", to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "second")
        try AtomicFile.write(Data([0, 1, 2]), to: url)
        #expect(try Data(contentsOf: url) == Data([0, 1, 2]))
        try AtomicFile.write(Data(), to: url)
        #expect(try Data(contentsOf: url).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.txt"])

        let nowhere = dir.appendingPathComponent("missing/out.txt")
        #expect(throws: WideNetIOError.self) { try AtomicFile.write("x", to: nowhere) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.txt"])
    }

    // MARK: numpy interop

    static let hasNumpy: Bool = (try? python(["-c", "import numpy"]).status) == 0

    static func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test(.enabled(if: hasNumpy, "python3 with numpy is not available; interop not checked"))
    func numpyInterop() throws {
        let dir = try Self.tempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try NPY.write([Float(0.5), 1.5, 2.5, 3.5, 4.5, 5.5], shape: [2, 3], to: dir.appendingPathComponent("s32.npy"))
        try NPY.write([0.25, -1.0, 8.0], shape: [3], to: dir.appendingPathComponent("s64.npy"))

        let script = """
        import sys, numpy as np
        d = sys.argv[1]
        for name in ('s32', 's64'):
            a = np.load(f'{d}/{name}.npy')
            print(name, a.dtype, a.shape, float(a.sum()))
        np.save(f'{d}/f32.npy', (np.arange(12, dtype=np.float32) / 4).reshape(3, 4))
        np.save(f'{d}/f64.npy', np.linspace(-1, 1, 5))
        with open(f'{d}/v2.npy', 'wb') as f:
            np.lib.format.write_array(f, np.arange(6.0).reshape(2, 3), version=(2, 0))
        np.save(f'{d}/scalar.npy', np.float64(2.5))
        np.save(f'{d}/empty.npy', np.zeros((0, 3), dtype=np.float32))
        np.save(f'{d}/fortran.npy', np.asfortranarray(np.ones((2, 3))))
        np.save(f'{d}/int.npy', np.arange(3))
        np.save(f'{d}/big.npy', np.arange(3, dtype='>f4'))
        """
        let (status, output) = try Self.python(["-c", script, dir.path])
        try #require(status == 0, "python failed: \(output)")
        #expect(output.contains("s32 float32 (2, 3) 18.0"), "\(output)")
        #expect(output.contains("s64 float64 (3,) 7.25"), "\(output)")

        func read(_ name: String) throws -> NPYArray { try NPY.read(dir.appendingPathComponent(name)) }
        let f32 = try read("f32.npy")
        #expect(f32.dtype == .float32 && f32.shape == [3, 4] && f32.floats() == (0..<12).map { Float($0) / 4 })
        let f64 = try read("f64.npy")
        #expect(f64.dtype == .float64 && f64.shape == [5] && f64.values == [-1, -0.5, 0, 0.5, 1])
        let v2 = try read("v2.npy")
        #expect(v2.shape == [2, 3] && v2.values == [0, 1, 2, 3, 4, 5])
        let scalar = try read("scalar.npy")
        #expect(scalar.shape == [] && scalar.values == [2.5])
        let empty = try read("empty.npy")
        #expect(empty.shape == [0, 3] && empty.count == 0)

        for (name, expected) in [("fortran.npy", "Fortran"), ("int.npy", "unsupported dtype '<i8'"), ("big.npy", "big-endian")] {
            let error = #expect(throws: NPYError.self) { try read(name) }
            #expect(error?.reason.contains(expected) == true, "\(name): \(String(describing: error))")
        }
    }
}
