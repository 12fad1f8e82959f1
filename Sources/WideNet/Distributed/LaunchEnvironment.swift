import Foundation

/// Where this process sits in a job of several, read from what the launcher put in the environment:
/// Open MPI's mpirun (OMPI_COMM_WORLD_*) or Slurm's srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
/// and SLURM_STEP_TASKS_PER_NODE, inside a job step). No launcher, or a job of one, is nil: the
/// process runs alone and MPI is never loaded.
public struct RankLayout: Equatable, Sendable, CustomStringConvertible {
    public var rank: Int, size: Int
    /// Rank and number of ranks on this machine: which of its devices this rank drives.
    public var localRank: Int, localSize: Int
    public var launcher: String

    public var description: String {
        "rank \(rank) of \(size) (local rank \(localRank) of \(localSize), started by \(launcher))"
    }
}

public enum LaunchEnvironment {
    public static func layout(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RankLayout? {
        func number(_ name: String) throws -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw BackendError("\(name)=\(text): not a non-negative integer (set by the MPI or Slurm launcher)", .usage)
            }
            return value
        }
        let layout: RankLayout
        if let size = try number("OMPI_COMM_WORLD_SIZE") {
            guard let rank = try number("OMPI_COMM_WORLD_RANK") else {
                throw BackendError("OMPI_COMM_WORLD_SIZE is set but OMPI_COMM_WORLD_RANK is not", .usage)
            }
            layout = RankLayout(rank: rank, size: size, localRank: try number("OMPI_COMM_WORLD_LOCAL_RANK") ?? 0,
                                localSize: try number("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1, launcher: "mpirun")
        } else if environment["SLURM_STEP_ID"] != nil, let size = try number("SLURM_NTASKS") {
            guard let rank = try number("SLURM_PROCID") else {
                throw BackendError("SLURM_NTASKS is set in a job step but SLURM_PROCID is not", .usage)
            }
            layout = RankLayout(rank: rank, size: size, localRank: try number("SLURM_LOCALID") ?? 0,
                                localSize: try tasksOnThisNode(environment) ?? 1, launcher: "srun")
        } else {
            return nil
        }
        guard layout.size >= 1, layout.rank < layout.size, layout.localSize >= 1, layout.localRank < layout.localSize else {
            throw BackendError("the launcher's environment is inconsistent: \(layout)", .usage)
        }
        return layout.size == 1 ? nil : layout
    }

    /// Tasks of this step on this node from SLURM_STEP_TASKS_PER_NODE ("2(x3),1": nodes in order,
    /// counts repeated) and SLURM_NODEID.
    static func tasksOnThisNode(_ environment: [String: String]) throws -> Int? {
        guard let text = environment["SLURM_STEP_TASKS_PER_NODE"] ?? environment["SLURM_TASKS_PER_NODE"] else { return nil }
        var counts: [Int] = []
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "(")
            guard let count = Int(parts[0]) else {
                throw BackendError("SLURM_STEP_TASKS_PER_NODE=\(text): not a list like 2(x3),1", .usage)
            }
            var repeats = 1
            if parts.count == 2 {
                guard parts[1].hasPrefix("x"), parts[1].hasSuffix(")"), let r = Int(parts[1].dropFirst().dropLast()), r > 0 else {
                    throw BackendError("SLURM_STEP_TASKS_PER_NODE=\(text): not a list like 2(x3),1", .usage)
                }
                repeats = r
            }
            counts += Array(repeating: count, count: repeats)
        }
        let node = Int(environment["SLURM_NODEID"] ?? "0") ?? 0
        guard node < counts.count else {
            throw BackendError("SLURM_NODEID=\(node) is past SLURM_STEP_TASKS_PER_NODE=\(text)", .usage)
        }
        return counts[node]
    }
}
