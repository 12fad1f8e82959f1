/// The OpenCL C sources under `cl/`, embedded at build time (SwiftPM `.embedInCode`), by file.
/// A new kernel file needs a case here: the embedded arrays are named after the files.
public enum KernelSource: String, CaseIterable, Sendable {
    case common, philox, gemm, rowtile, ntk, ntkTiled = "ntk_tiled", gram, reduce, mfld, average, resnet

    /// Files whose functions this one calls; a program is built with them in front.
    public var prerequisites: [KernelSource] {
        switch self {
        case .ntk, .mfld: return [.rowtile]
        default: return []
        }
    }

    public var text: String {
        let bytes: [UInt8]
        switch self {
        case .common: bytes = PackageResources.common_cl
        case .philox: bytes = PackageResources.philox_cl
        case .gemm: bytes = PackageResources.gemm_cl
        case .rowtile: bytes = PackageResources.rowtile_cl
        case .ntk: bytes = PackageResources.ntk_cl
        case .ntkTiled: bytes = PackageResources.ntk_tiled_cl
        case .gram: bytes = PackageResources.gram_cl
        case .reduce: bytes = PackageResources.reduce_cl
        case .mfld: bytes = PackageResources.mfld_cl
        case .average: bytes = PackageResources.average_cl
        case .resnet: bytes = PackageResources.resnet_cl
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
