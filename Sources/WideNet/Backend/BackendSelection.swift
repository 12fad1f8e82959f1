import Foundation

/// `--backend auto|cpu|opencl`.
public enum BackendKind: String, Sendable, CaseIterable, Codable {
    case auto, cpu, opencl
}

/// Picks the backend a run uses, and says why when `auto` falls back to the CPU.
public enum BackendSelection {
    public struct Choice {
        public let backend: any Backend
        /// One line for the user when the choice was not the obvious one (auto fell back).
        public let note: String?
    }

    /// An OpenCL device as such, for the commands that work on its kernels (selftest, tune).
    public static func openCL(device: String?, precision: Precision) throws -> OpenCLBackend {
        let choice = try make(kind: .opencl, device: device, precision: precision)
        guard let backend = choice.backend as? OpenCLBackend else { throw BackendError("no OpenCL device was chosen") }
        return backend
    }

    /// `device` is an index into `CLDevice.all()` or a case-insensitive substring of a device name;
    /// in a job of ranks it may list one per rank of this machine ("0,1,2,3"), and a name several
    /// devices share, or none (auto), gives each local rank its own of them in turn.
    public static func make(kind: BackendKind, device: String?, precision: Precision) throws -> Choice {
        let choice = try choose(kind: kind, device: device, precision: precision)
        Log.logger("backend").info("\(choice.backend.info.kind) backend on \(choice.backend.info.deviceName) (\(precision.rawValue))")
        return choice
    }

    static func choose(kind: BackendKind, device: String?, precision: Precision) throws -> Choice {
        switch kind {
        case .cpu:
            return Choice(backend: CPUBackend(), note: nil)
        case .opencl:
            let devices: [CLDevice]
            do { devices = try CLDevice.all() } catch {
                throw BackendError.resources("--backend opencl: no OpenCL driver could be queried (\(error))")
            }
            guard !devices.isEmpty else {
                throw BackendError.resources("--backend opencl: no OpenCL device found (is an ICD such as pocl-opencl-icd or the NVIDIA driver installed?)")
            }
            let chosen = try pick(device, from: devices) ?? ofThisRank(best(among: devices)) ?? devices[0]
            if precision == .f64 && !chosen.info.hasFP64 {
                throw BackendError.resources("device \(chosen.info.name) has no cl_khr_fp64: use --precision f32")
            }
            return Choice(backend: try OpenCLBackend(device: chosen), note: nil)
        case .auto:
            let devices = (try? CLDevice.all()) ?? []
            if let device {
                guard let chosen = try pick(device, from: devices) else {
                    throw BackendError("--device \(device): no such OpenCL device")
                }
                return Choice(backend: try OpenCLBackend(device: chosen), note: nil)
            }
            let gpus = devices.filter { $0.info.isGPU && (precision == .f32 || $0.info.hasFP64) }
            guard let gpu = ofThisRank(best(among: gpus)) else {
                let why = devices.isEmpty ? "no OpenCL device found"
                    : "no OpenCL GPU\(precision == .f64 ? " with fp64" : "") among \(devices.map(\.info.name).joined(separator: ", "))"
                return Choice(backend: CPUBackend(), note: "backend auto: \(why); using the CPU backend (OpenBLAS)")
            }
            do {
                return Choice(backend: try OpenCLBackend(device: gpu), note: nil)
            } catch {
                return Choice(backend: CPUBackend(), note: "backend auto: \(gpu.info.name) failed to start (\(error)); using the CPU backend")
            }
        }
    }

    /// This process's rank and the ranks on its machine (0 of 1 alone).
    static var local: (rank: Int, size: Int) {
        guard let mpi = Job.exchange as? MPIRuntime else { return (0, 1) }
        return (mpi.layout.localRank, mpi.layout.localSize)
    }

    /// The local rank's device among `candidates`, in turn (ranks share them when there are fewer).
    static func ofThisRank(_ candidates: [CLDevice]) -> CLDevice? {
        candidates.isEmpty ? nil : candidates[local.rank % candidates.count]
    }

    static func pick(_ given: String?, from devices: [CLDevice]) throws -> CLDevice? {
        guard let given, !given.isEmpty else { return nil }
        let list = given.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let spec: String
        if list.count > 1 {
            guard list.count == local.size else {
                throw BackendError("--device \(given) lists \(list.count) devices but \(local.size) rank\(local.size == 1 ? "" : "s") run on this machine; "
                    + "give one per local rank, or one for all", .usage)
            }
            spec = list[local.rank]
        } else {
            spec = given
        }
        if let index = Int(spec) {
            guard devices.indices.contains(index) else {
                throw BackendError("--device \(index): there \(devices.count == 1 ? "is 1 OpenCL device" : "are \(devices.count) OpenCL devices") (see `widenet devices`)")
            }
            return devices[index]
        }
        let matches = devices.filter { $0.info.name.localizedCaseInsensitiveContains(spec) }
        guard let chosen = ofThisRank(matches) else {
            throw BackendError("--device \(spec): no OpenCL device name contains it (have: \(devices.map(\.info.name).joined(separator: ", ")))")
        }
        return chosen
    }

    /// The devices that rank first (GPUs before the rest, then by rankScore), in `widenet devices` order.
    static func best(among devices: [CLDevice]) -> [CLDevice] {
        let key = { (d: CLDevice) in (d.info.isGPU ? 1 : 0, d.info.rankScore) }
        guard let top = devices.map(key).max(by: <) else { return [] }
        return devices.filter { key($0) == top }
    }
}
