import Foundation
import Testing
@testable import WideNet

/// Which rank a process is, from the launcher's environment (mpirun, srun), and MPI itself through
/// the binary when mpirun is installed.
@Suite struct LaunchEnvironmentTests {
    @Test func aloneOrAJobOfOneIsNoJob() throws {
        #expect(try LaunchEnvironment.layout([:]) == nil)
        #expect(try LaunchEnvironment.layout(["OMPI_COMM_WORLD_SIZE": "1", "OMPI_COMM_WORLD_RANK": "0"]) == nil)
        // An sbatch script outside any step is not a job of ranks either.
        #expect(try LaunchEnvironment.layout(["SLURM_NTASKS": "4", "SLURM_PROCID": "0"]) == nil)
    }

    @Test func openMPIsVariables() throws {
        let l = try LaunchEnvironment.layout(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "3",
                                              "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"])
        #expect(l == RankLayout(rank: 3, size: 4, localRank: 1, localSize: 2, launcher: "mpirun"))
    }

    @Test func slurmsVariables() throws {
        let base = ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "7", "SLURM_PROCID": "5", "SLURM_LOCALID": "0",
                    "SLURM_STEP_TASKS_PER_NODE": "3(x2),1", "SLURM_NODEID": "2"]
        #expect(try LaunchEnvironment.layout(base) == RankLayout(rank: 5, size: 7, localRank: 0, localSize: 1, launcher: "srun"))
        var second = base
        second["SLURM_NODEID"] = "1"; second["SLURM_LOCALID"] = "2"; second["SLURM_PROCID"] = "4"
        #expect(try LaunchEnvironment.layout(second)?.localSize == 3)
        // mpirun's variables win where both are present (Open MPI started by srun sets both).
        var both = base
        both["OMPI_COMM_WORLD_SIZE"] = "7"; both["OMPI_COMM_WORLD_RANK"] = "5"
        #expect(try LaunchEnvironment.layout(both)?.launcher == "mpirun")
    }

    @Test(arguments: [["OMPI_COMM_WORLD_SIZE": "two", "OMPI_COMM_WORLD_RANK": "0"],
                      ["OMPI_COMM_WORLD_SIZE": "2"],
                      ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "2"],
                      ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "2", "SLURM_PROCID": "1", "SLURM_STEP_TASKS_PER_NODE": "2(3)"],
                      ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "2", "SLURM_PROCID": "1", "SLURM_STEP_TASKS_PER_NODE": "1", "SLURM_NODEID": "1"]])
    func malformedEnvironmentsAreRefusedByName(environment: [String: String]) {
        #expect(throws: BackendError.self) { _ = try LaunchEnvironment.layout(environment) }
    }

    static let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Three ranks load Open MPI, agree on their ranks through one allgather, and rank 0 alone
    /// lists the devices; alone, the binary loads no MPI at all.
    @Test(.enabled(if: mpirun != nil, "mpirun (openmpi-bin) is not installed"))
    func threeRanksThroughMpirun() throws {
        let r = try MPIRunTests.mpirun(3, ["devices"])
        let text = r.stdout
        #expect(r.status == 0, "\(r.stderr)")
        for rank in 0..<3 {
            #expect(text.contains("MPI: rank \(rank) of 3") , "\(text)")
        }
        #expect(text.components(separatedBy: "allgather of the ranks: 0 1 2 (ok)").count == 4, "\(text)")
        #expect(text.components(separatedBy: "BLAS: ").count == 2, "rank 0 alone lists the devices: \(text)")
        let alone = try CLITests.run(["devices"])
        #expect(alone.status == 0 && !alone.stdout.contains("MPI:"))
    }
}
