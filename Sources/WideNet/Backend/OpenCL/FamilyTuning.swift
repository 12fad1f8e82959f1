import Foundation

/// The tile sizes of the Gram kernels (gram.cl's mask_gram and arccos_gram): TILE × TILE sample
/// pairs a work-group.
public struct GramKernelConfig: Hashable, Codable, Sendable {
    public var tile = 8

    public func fits(_ limits: LaunchLimits) -> Bool { tile > 0 && tile * tile <= limits.maxWorkGroupSize }
}

/// The tile sizes of the mean-field update kernels (mfld.cl's mfld_update and mfld_gradient):
/// UPD_WG particles a work-group, and at most UPD_SC samples of the batch staged in local memory
/// at a time (fewer where they do not fit: LaunchPlans.updateSamples).
public struct MFLDKernelConfig: Hashable, Codable, Sendable {
    public var updateGroup = 64
    public var stagedSamples = 32

    public func fits(_ limits: LaunchLimits) -> Bool {
        updateGroup > 0 && updateGroup <= limits.maxWorkGroupSize && stagedSamples > 0
    }
}

/// The Gram and MFLD tiles per device, chosen like GEMM's and NTK's: the first of the vendor's
/// defaults that fits the device. Every vendor has the same list so far (the values checked on
/// PoCL and against an NVIDIA device model); a measured entry for a vendor goes first in its list.
public enum FamilyTuningDatabase {
    public static func gramDefaults(vendor: String) -> [GramKernelConfig] { [GramKernelConfig(), GramKernelConfig(tile: 4)] }

    public static func mfldDefaults(vendor: String) -> [MFLDKernelConfig] {
        [MFLDKernelConfig(), MFLDKernelConfig(updateGroup: 32, stagedSamples: 32)]
    }

    public static func gram(vendor: String, limits: LaunchLimits) -> GramKernelConfig {
        gramDefaults(vendor: vendor).first { $0.fits(limits) } ?? GramKernelConfig(tile: 1)
    }

    public static func mfld(vendor: String, limits: LaunchLimits) -> MFLDKernelConfig {
        mfldDefaults(vendor: vendor).first { $0.fits(limits) } ?? MFLDKernelConfig(updateGroup: 1, stagedSamples: 1)
    }
}
