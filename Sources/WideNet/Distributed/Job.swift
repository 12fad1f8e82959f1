import Foundation

/// This process's place in a job: alone unless mpirun or srun started it (LaunchEnvironment), in
/// which case `start` loads MPI once and every model that splits its width exchanges through it.
/// Process-wide because MPI itself is: one world per process.
public enum Job {
    nonisolated(unsafe) public private(set) static var exchange: any WidthExchange = SingleProcess()

    /// Starts MPI when a launcher started this process; alone it does nothing.
    public static func start(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard exchange.size == 1, let layout = try LaunchEnvironment.layout(environment) else { return }
        exchange = try MPIRuntime.start(layout)
    }

    public static var isLeader: Bool { exchange.rank == 0 }

    /// The units of `partition` this rank holds in a job of ranks (its blocks), nil alone.
    public static func share(of partition: WidthPartition) -> Int? {
        guard ranks > 1 else { return nil }
        return partition.blocks(rank: exchange.rank, of: ranks).reduce(0) { $0 + partition.range($1).count }
    }
    public static var ranks: Int { exchange.size }

    /// After the last collective: MPI_Finalize.
    public static func finish() throws { try (exchange as? MPIRuntime)?.finish() }

    /// Ends every rank at once after this one failed, so that none waits in a collective for it.
    public static func abortAll(_ code: Int32) {
        guard let mpi = exchange as? MPIRuntime else { return }
        mpi.abort(code)
    }
}
