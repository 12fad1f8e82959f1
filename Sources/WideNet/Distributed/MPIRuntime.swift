import CWideNetMPI
import Foundation

/// The job's ranks through Open MPI, loaded (dlopen) and initialised when a launcher started the
/// process (LaunchEnvironment), never otherwise: a binary run alone needs no MPI installed and
/// pays no MPI start-up.
public final class MPIRuntime: WidthExchange, @unchecked Sendable {
    /// Open MPI 4's library (Debian's openmpi-bin).
    public static let library = "libmpi.so.40"
    public let layout: RankLayout
    public var rank: Int { layout.rank }
    public var size: Int { layout.size }
    public private(set) var finished = false
    /// What the collectives have moved and waited so far (this rank's view).
    public private(set) var traffic = ExchangeTraffic()

    /// MPI may be initialised once a process: the first start makes the runtime, later ones get it.
    nonisolated(unsafe) private static var current: MPIRuntime?
    private static let lock = NSLock()

    public static func start(_ layout: RankLayout) throws -> MPIRuntime {
        lock.lock(); defer { lock.unlock() }
        if let current { return current }
        var why = [CChar](repeating: 0, count: 512)
        guard wn_mpi_load(library, &why, why.count) == 0 else {
            throw BackendError.resources("\(layout.launcher) started this process as \(layout), but Open MPI's \(library) "
                + "cannot be loaded (\(Self.text(why)))); install openmpi-bin, or run without the launcher")
        }
        var rank: Int32 = -1, size: Int32 = 0
        try check(wn_mpi_init(&rank, &size), "MPI_Init")
        guard Int(rank) == layout.rank, Int(size) == layout.size else {
            throw BackendError.resources("MPI_COMM_WORLD has rank \(rank) of \(size), but the launcher's environment says \(layout)")
        }
        let runtime = MPIRuntime(layout: layout)
        current = runtime
        return runtime
    }

    private init(layout: RankLayout) { self.layout = layout }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        wn_mpi_error_string(code, &text, text.count)
        throw BackendError.resources("\(call) failed: \(Self.text(text))")
    }

    /// Every rank's `bytes` (the same count on each), concatenated in rank order.
    public func allgatherBytes(_ bytes: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes.count * size)
        try timed(received: out.count) {
            try bytes.withUnsafeBytes { send in
                try out.withUnsafeMutableBytes { receive in
                    try Self.check(wn_mpi_allgather_bytes(send.baseAddress, bytes.count, receive.baseAddress), "MPI_Allgather")
                }
            }
        }
        return out
    }

    /// The element-wise sum of every rank's counts (integers: exact, the same on every rank).
    public func allreduceSum(_ values: [UInt32]) throws -> [UInt32] {
        var out = [UInt32](repeating: 0, count: values.count)
        try timed(received: values.count * 4) {
            try values.withUnsafeBufferPointer { send in
                try out.withUnsafeMutableBufferPointer { receive in
                    try Self.check(wn_mpi_allreduce_sum_u32(send.baseAddress, receive.baseAddress, values.count), "MPI_Allreduce")
                }
            }
        }
        return out
    }

    /// Runs one collective, counting it, the bytes it hands back and the time spent in it (the
    /// wait for the slowest rank included: what a step loses to the exchange).
    private func timed(received: Int, _ body: () throws -> Void) throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        PeerWatch.waitingSince.store(t0, ordering: .relaxed)
        defer {
            PeerWatch.waitingSince.store(0, ordering: .relaxed)
            traffic.calls += 1
            traffic.bytes += received
            traffic.seconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        try body()
    }

    /// A NUL-terminated C buffer as a String.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func barrier() throws { try timed(received: 0) { try Self.check(wn_mpi_barrier(), "MPI_Barrier") } }

    /// Ends every rank of the job: the way out for a rank that failed, which would otherwise leave
    /// the others waiting in a collective.
    public func abort(_ code: Int32) -> Never {
        wn_mpi_abort(code)
        exit(code)
    }

    /// MPI_Finalize, once, after the last collective.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try Self.check(wn_mpi_finalize(), "MPI_Finalize")
    }
}
