import CBLAS
import CWideNetCPU
import Dispatch
import Foundation

/// Host memory, 64-byte aligned, freed with the last reference.
public final class HostBuffer: DeviceBuffer {
    public let byteCount: Int
    let raw: UnsafeMutableRawPointer

    init(bytes: Int) {
        byteCount = bytes
        raw = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
    }
    deinit { raw.deallocate() }

    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> { raw.assumingMemoryBound(to: T.self) }
}

/// The reference backend: OpenBLAS for matrix products, LAPACKE for eigenvalues, and Swift loops
/// spread over the cores. Every OpenCL kernel is tested against it.
///
/// Its generic operations carry `@_specialize(where T == Float)` and `(where T == Double)`: called
/// through `any Backend` they would otherwise run unspecialised, every + and * a witness call.
public final class CPUBackend: Backend {
    public let info: BackendInfo
    /// Worker count for the fused loops; each worker calls single-threaded BLAS on its own chunk.
    let workers: Int
    /// The worker count and, when a launcher bound this process to fewer cores, what it allows.
    public let threads: String

    /// `workers`: threads of the fused loops (default: one per core this process may use, at most
    /// its share of the machine's cores in a job of ranks). Results do not depend on it.
    public init(workers: Int? = nil) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ranksHere = (Job.exchange as? MPIRuntime)?.layout.localSize ?? 1
        // mpirun binds each rank to one core when it starts two or fewer: threads beyond the binding would share it.
        let usable = Int(wn_usable_cores())
        let allowed = usable > 0 ? min(usable, cores) : cores
        self.workers = max(workers ?? min(allowed, cores / ranksHere), 1)
        let bound = allowed >= cores / ranksHere ? ""
            : Job.ranks > 1 ? " (bound to \(allowed) of \(cores) cores by the launcher; `mpirun --bind-to none` lets each of \(ranksHere) ranks here use \(cores / ranksHere))"
            : " (its CPU affinity allows \(allowed) of \(cores) cores)"
        threads = "\(self.workers) worker\(self.workers == 1 ? "" : "s")\(bound)"
        let mem = Int(ProcessInfo.processInfo.physicalMemory)
        info = BackendInfo(kind: "cpu", deviceName: CPUBackend.cpuName(), deviceIndex: nil,
                           driver: CPUBackend.blasDescription + "; vector loops: \(CPUKernels.instructionSet.rawValue); \(threads)",
                           globalMemBytes: mem, maxAllocBytes: mem, supportsF64: true, isGPU: false)
    }

    /// OpenBLAS's build description, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
    public static var blasDescription: String {
        guard let c = openblas_get_config() else { return "OpenBLAS" }
        return String(cString: c).trimmingCharacters(in: .whitespaces)
    }

    static func cpuName() -> String {
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let name = line.split(separator: ":", maxSplits: 1).last {
            return "\(name.trimmingCharacters(in: .whitespaces)) (\(ProcessInfo.processInfo.activeProcessorCount) threads)"
        }
        return "CPU (\(ProcessInfo.processInfo.activeProcessorCount) threads)"
    }

    public func allocate(bytes: Int) throws -> any DeviceBuffer {
        guard bytes >= 0 else { throw BackendError("cannot allocate \(bytes) bytes") }
        return HostBuffer(bytes: bytes)
    }

    func host(_ buffer: any DeviceBuffer) -> HostBuffer {
        guard let b = buffer as? HostBuffer else {
            preconditionFailure("CPUBackend was handed a buffer of another backend")
        }
        return b
    }

    public func upload<T: BitwiseCopyable>(_ values: [T], to buffer: any DeviceBuffer) throws {
        let b = host(buffer)
        let bytes = values.count * MemoryLayout<T>.stride
        guard bytes <= b.byteCount else { throw BackendError("upload of \(bytes) bytes into a \(b.byteCount)-byte buffer") }
        values.withUnsafeBytes { b.raw.copyMemory(from: $0.baseAddress!, byteCount: bytes) }
    }

    public func download<T: BitwiseCopyable>(_ buffer: any DeviceBuffer, count: Int, as: T.Type) throws -> [T] {
        let b = host(buffer)
        guard count * MemoryLayout<T>.stride <= b.byteCount else {
            throw BackendError("download of \(count) values from a \(b.byteCount)-byte buffer")
        }
        return Array(UnsafeBufferPointer(start: b.pointer(T.self), count: count))
    }

    public func copy(_ source: any DeviceBuffer, to destination: any DeviceBuffer, bytes: Int) throws {
        let s = host(source), d = host(destination)
        guard bytes <= s.byteCount, bytes <= d.byteCount else { throw BackendError("copy of \(bytes) bytes out of range") }
        d.raw.copyMemory(from: s.raw, byteCount: bytes)
    }

    public func synchronize() throws {}
    public var computesOnHost: Bool { true }

    /// Runs body(worker, range) over `count` items split into one contiguous range per worker.
    /// The workers write disjoint parts of the buffers `body` captures as raw pointers, which
    /// Sendable checking cannot express: this is the one place that vouches for it.
    func parallelRanges(_ count: Int, _ body: (Int, Range<Int>) -> Void) {
        let parts = min(workers, count)
        guard parts > 1 else { if count > 0 { body(0, 0..<count) }; return }
        withoutActuallyEscaping(body) { body in
            let shared = DisjointWorkers(body: body)
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                let lo = count * p / parts, hi = count * (p + 1) / parts
                shared.body(p, lo..<hi)
            }
        }
    }

    /// The forward passes' pattern: `body(chunk, scratch, partials)` writes `n` partial outputs of
    /// one chunk (with a `scratchCount`-value scratch of its worker, single-threaded BLAS); the
    /// chunks' partials are then summed in chunk order into `out`, so the result does not depend
    /// on how chunks were spread over threads.
    func chunkedPartialSums<T: Scalar>(chunks: Int, n: Int, scratchCount: Int, into out: UnsafeMutablePointer<T>,
                                       _ body: (Int, UnsafeMutablePointer<T>, UnsafeMutablePointer<T>) -> Void) {
        var partials = [T](repeating: 0, count: chunks * n)
        partials.withUnsafeMutableBufferPointer { p in
            let p = p.baseAddress!
            BLAS.singleThreaded {
                parallelRanges(chunks) { _, range in
                    let scratch = UnsafeMutablePointer<T>.allocate(capacity: max(scratchCount, 1))
                    defer { scratch.deallocate() }
                    for c in range { body(c, scratch, p + c * n) }
                }
            }
        }
        for i in 0..<n {
            var acc: T = 0
            for c in 0..<chunks { acc += partials[c * n + i] }
            out[i] = acc
        }
    }

}

/// A worker body shared by concurrentPerform's threads, each on its own range (parallelRanges).
private struct DisjointWorkers: @unchecked Sendable {
    let body: (Int, Range<Int>) -> Void
}
