import ArgumentParser
import Foundation
import WideNet

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List OpenCL platforms and devices, and the CPU BLAS.",
        discussion: "Under mpirun or srun each rank also reports its rank and checks one collective.\n\nExamples:\n  widenet devices   # indices are what --device N means\n  mpirun -np 2 widenet devices")

    func run() throws {
        try reportingErrors(splitsOverRanks: true) {
            // Under mpirun or srun, each rank says where it sits and the ranks check one collective;
            // rank 0 then lists the devices.
            if let mpi = Job.exchange as? MPIRuntime {
                let ranks = try mpi.allgather([Int32(mpi.rank)])
                let ok = ranks == (0..<mpi.size).map(Int32.init)
                print("MPI: \(mpi.layout); Open MPI \(MPIRuntime.library); allgather of the ranks: "
                      + ranks.map(String.init).joined(separator: " ") + (ok ? " (ok)" : " (WRONG)"))
                try mpi.barrier()
                guard ok else { throw BackendError.resources("MPI: the allgather returned \(ranks)") }
                guard mpi.rank == 0 else { return }
            }
            let devices: [CLDevice]
            do { devices = try CLDevice.all() } catch {
                print("OpenCL: no driver could be queried (\(error))")
                devices = []
            }
            if devices.isEmpty { print("OpenCL: no devices found (install an ICD: the NVIDIA driver, or pocl-opencl-icd for the CPU)") }
            for dev in devices {
                let i = dev.info
                print("[\(i.index)] \(i.name)  (\(i.typeName), \(i.platformName))")
                print("    memory \(gib(i.globalMemBytes)), max alloc \(gib(i.maxAllocBytes)), local \(i.localMemBytes / 1024) KiB")
                print("    compute units \(i.computeUnits) @ \(i.maxClockMHz) MHz, fp64 \(i.hasFP64 ? "yes" : "no"), max work-group \(i.maxWorkGroupSize)")
                print("    \(i.deviceVersion); driver \(i.driverVersion)")
            }
            let cpu = CPUBackend()
            print("CPU: \(cpu.info.deviceName), memory \(gib(cpu.info.globalMemBytes)); backend loops: \(cpu.threads)")
            print("BLAS: \(CPUBackend.blasDescription)")
        }
    }

    func gib(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / 1_073_741_824) }
}
