import Foundation
import Testing
@testable import WideNet

/// Launch geometry against a device that is not here: NVIDIA's grid (65 535 work-groups in
/// dimensions 1 and 2), 48 KB of local memory and 1024 items a group, for every kernel at the
/// shapes the experiments reach (widths to 4×10^8, d to 2^20 for the NTK and 256 for MFLD).
struct LaunchGeometryTests {
    @Test func everyKernelFitsAnNVIDIAGPUAtEveryWidth() {
        let rows = LaunchTable.rows()
        #expect(rows.count > 100)
        for row in rows where row.problem != nil {
            Issue.record("\(row.kernel) \(row.precision) \(row.shape): \(row.problem!)")
        }
        // The widest runs do cut dimension 1 into slices (n = 5·10^6 samples, d = 2^20 coordinates).
        #expect(rows.contains { $0.slices > 1 })
        #expect(rows.allSatisfy { $0.localBytes <= 48 * 1024 && $0.local.reduce(1, *) <= 1024 })
    }

    /// The plans that the review found broken, in the old geometry, are refused by the check.
    @Test func theOldGeometryIsRefused() {
        let m = 1 << 24, n = 256, words = m / 32
        // ntk_forward launched [n, words] with local [32, 4]: m/128 = 131 072 groups in dimension 1.
        let old = KernelLaunch(kernel: "ntk_forward (old)", groups: [n / 32, words / 4], local: [32, 4])
        #expect(throws: BackendError.self) { try old.check(.nvidia, device: "H200") }
        // The same launch now: words in dimension 0.
        let new = LaunchPlans.ntkForward(NTKBlockShape(n: n, d: 64, width: m), .reference, scalar: 4)
        #expect(throws: Never.self) { try new.check(.nvidia, device: "H200") }
        #expect(new.groups[0] == words / 4 && new.groups[1] == n / 32)
        // mfld_update in f64 at d = 256 staged 32 samples: 32·257·8 B = 65 792 B > 48 KB.
        let oldUpdate = KernelLaunch(kernel: "mfld_update (old)", groups: [1], local: [64], localBytes: 32 * 257 * 8)
        #expect(throws: BackendError.self) { try oldUpdate.check(.nvidia, device: "H200") }
        let tiles = FamilyTuningDatabase.mfld(vendor: "NVIDIA", limits: .nvidia)
        let plan = LaunchPlans.mfldUpdate("mfld_update", MFLDShape(batch: 256, d: 256, particles: 1 << 20), scalar: 8, limits: .nvidia, tiles)
        #expect(plan.localBytes <= 48 * 1024)
        #expect(LaunchPlans.updateSamples(d: 256, scalar: 8, limits: .nvidia, tiles) == 16)
        #expect(LaunchPlans.updateSamples(d: 20, scalar: 8, limits: .nvidia, tiles) == 32)
    }

    /// The Gram and MFLD tiles: the first default that fits, smaller ones on a device with small work-groups.
    @Test func familyTilesFitTheDevice() {
        #expect(FamilyTuningDatabase.gram(vendor: "NVIDIA Corporation", limits: .nvidia) == GramKernelConfig(tile: 8))
        #expect(FamilyTuningDatabase.mfld(vendor: "NVIDIA Corporation", limits: .nvidia).updateGroup == 64)
        let small = LaunchLimits(maxGroups: LaunchLimits.portableGroups, maxWorkGroupSize: 32, localMemBytes: 32 * 1024)
        let gram = FamilyTuningDatabase.gram(vendor: "any", limits: small), mfld = FamilyTuningDatabase.mfld(vendor: "any", limits: small)
        #expect(gram.tile == 4 && gram.fits(small))
        #expect(mfld.updateGroup == 32 && mfld.fits(small))
        #expect(LaunchPlans.gram("mask_gram", n: 100, gram).local == [4, 4])
        #expect(LaunchPlans.mfldUpdate("mfld_update", MFLDShape(batch: 8, d: 20, particles: 1000), scalar: 4, limits: small, mfld).local == [32])
    }

    @Test func dimensionOneIsCutIntoSlicesThatCoverItOnce() {
        let plan = KernelLaunch(kernel: "k", groups: [3, 131_072], local: [64], slicesDimension1: true)
        let slices = plan.slices(.nvidia)
        #expect(slices.map(\.count) == [65_535, 65_535, 2])
        #expect(slices.map(\.base) == [0, 65_535, 131_070])
        #expect(plan.local == [64, 1], "a 1-D work-group in a 2-D grid is 1 wide in dimension 1")
        let unsliced = KernelLaunch(kernel: "k", groups: [3, 131_072], local: [64])
        #expect(unsliced.slices(.nvidia).count == 1)
        #expect(throws: BackendError.self) { try unsliced.check(.nvidia, device: "model") }
    }

    @Test func tileConfigurationsAreCheckedBeforeUse() {
        for c in NTKTuningDatabase.defaults(vendor: "NVIDIA Corporation") {
            #expect(c.fits(.nvidia, scalarBytes: 4) && c.fits(.nvidia, scalarBytes: 8), "\(c)")
        }
        // Tiles that do not divide, or exceed the group or local memory, are refused.
        #expect(!NTKKernelConfig.tiled(forward: 48, 32, 16, 4, 4, backward: 64, 32, 32, 4, 4).fits(.nvidia, scalarBytes: 4))
        #expect(!NTKKernelConfig.tiled(forward: 256, 256, 16, 2, 2, backward: 64, 32, 32, 4, 4).fits(.nvidia, scalarBytes: 4))
        #expect(!NTKKernelConfig.tiled(forward: 128, 128, 64, 8, 8, backward: 64, 32, 32, 4, 4).fits(.nvidia, scalarBytes: 8))
    }

    @Test func theWorkGroupAndLocalMemoryLimitsAreEnforced() {
        let big = KernelLaunch(kernel: "k", groups: [1], local: [2048])
        #expect(throws: BackendError.self) { try big.check(.nvidia, device: "model") }
        let hungry = KernelLaunch(kernel: "k", groups: [1], local: [64], localBytes: 49_153)
        #expect(throws: BackendError.self) { try hungry.check(.nvidia, device: "model") }
    }
}

/// Host-side faults of the OpenCL layer that the review found.
@Suite(.enabled(if: TestDevices.hasOpenCL, TestDevices.skipReason))
struct OpenCLHostTests {
    /// One device that cannot describe itself is left out; the others are still listed.
    @Test func aDeviceThatFailsToDescribeItselfHidesNoOther() throws {
        let devices = try CLDevice.all()
        let found = devices.map { ($0.id, $0.platform) }
        let broken = found + found
        var calls = 0
        let listed = CLDevice.collect(broken) { d, p, index in
            calls += 1
            if calls == 1 { throw CLError(call: "clGetDeviceInfo", code: -33) }
            return try CLDevice.describe(d, p, index)
        }
        #expect(listed.count == broken.count - 1)
        #expect(listed.map(\.info.index) == Array(0..<listed.count))
    }

    @Test func scratchBuffersRespectTheMaxAllocation() throws {
        let gpu = try TestDevices.backend()
        let error = #expect(throws: BackendError.self) {
            _ = try gpu.scratchBuffer("ntk.partials", bytes: gpu.info.maxAllocBytes + 1)
        }
        #expect(error?.description.contains("ntk.partials") == true)
    }

    /// A launch the device cannot run is refused before it is enqueued, naming the kernel.
    @Test func aLaunchBeyondTheDeviceIsRefused() throws {
        let gpu = try TestDevices.backend()
        let k = try gpu.kernel([.reduce], "mask_flips", options: try gpu.options(Float.self, ["-DRWG=128"]))
        let tooWide = KernelLaunch(kernel: "mask_flips", groups: [1], local: [gpu.cl.device.info.maxWorkGroupSize * 2])
        let error = #expect(throws: BackendError.self) { try gpu.cl.launch(k, tooWide, args: []) }
        #expect(error?.description.contains("mask_flips") == true)
    }
}
