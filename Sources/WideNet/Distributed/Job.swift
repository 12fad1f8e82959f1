import Foundation

/// This process's place in a job: alone unless mpirun or srun started it (LaunchEnvironment), in
/// which case `start` loads MPI once and every model that splits its width exchanges through it.
/// Process-wide because MPI itself is: one world per process.
public enum Job {
    nonisolated(unsafe) public private(set) static var exchange: any WidthExchange = SingleProcess()

    /// Starts MPI when a launcher started this process; alone it does nothing.
    public static func start(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard exchange.size == 1, let layout = try LaunchEnvironment.layout(environment) else { return }
        let mpi = try MPIRuntime.start(layout)
        exchange = mpi
        try PeerWatch.start(mpi, environment: environment)
    }

    public static var isLeader: Bool { exchange.rank == 0 }

    /// The units of `partition` this rank holds in a job of ranks (its blocks), nil alone.
    public static func share(of partition: WidthPartition) -> Int? {
        guard ranks > 1 else { return nil }
        return partition.blocks(rank: exchange.rank, of: ranks).reduce(0) { $0 + partition.range($1).count }
    }
    public static var ranks: Int { exchange.size }

    /// The signal a rank of the job has received (the lowest rank's), or nil: every rank calls it
    /// at the end of the same step, so all checkpoint and stop together although the signal
    /// reached each at its own moment.
    public static func agreedSignal(_ own: Int32?) throws -> Int32? {
        guard ranks > 1 else { return own }
        return try exchange.allgather([own ?? 0]).first { $0 != 0 }
    }

    /// How the command line of a resume starts ("mpirun -np 3 " in a job of ranks, "" alone).
    public static var launcherPrefix: String {
        guard let mpi = exchange as? MPIRuntime else { return "" }
        return mpi.layout.launcher == "srun" ? "srun -n \(ranks) " : "mpirun -np \(ranks) "
    }

    /// After the last collective: MPI_Finalize. Every rank has stopped taking a peer's end for a
    /// death (PeerWatch) before any may leave: a barrier, the watch told, a second barrier.
    public static func finish() throws {
        guard let mpi = exchange as? MPIRuntime, !mpi.finished else { return }
        try mpi.barrier()
        PeerWatch.peersMayLeave()
        try mpi.barrier()
        try mpi.finish()
    }

    /// Ends every rank at once after this one failed, so that none waits in a collective for it.
    public static func abortAll(_ code: Int32) {
        guard let mpi = exchange as? MPIRuntime else { return }
        mpi.abort(code)
    }
}
