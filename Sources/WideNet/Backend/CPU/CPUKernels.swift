import CWideNetCPU
import Foundation

/// The instruction sets the C loops of Sources/CWideNetCPU are compiled for, best first.
public enum CPUInstructionSet: String, CaseIterable, Sendable {
    case avx512, avx2, baseline

    var code: Int32 {
        switch self { case .avx512: Int32(WN_ISA_AVX512.rawValue); case .avx2: Int32(WN_ISA_AVX2.rawValue); case .baseline: Int32(WN_ISA_BASELINE.rawValue) }
    }
    public var isSupported: Bool { wn_isa_supported(code) != 0 }

    /// Vector-unit instructions per f32 Langevin noise value of the generator's loop as compiled
    /// (normals_f32_<isa> of philox.c, counted in its disassembly: AVX-512 652 a 64-value iteration,
    /// AVX2 786 a 32-value one, the baseline 694 a 16-value one) and about 0.5 for the update's
    /// scale, decay and store: the arithmetic floor of the noise-only update. A change to that loop
    /// recounts them.
    public var noiseInstructionsPerValue: Double {
        switch self {
        case .avx512: 652.0 / 64 + 0.5
        case .avx2: 786.0 / 32 + 0.5
        case .baseline: 694.0 / 16 + 0.5
        }
    }

    /// Flops per instruction of this unit's sgemm inner loop (16-lane FMA, 8-lane FMA, 4-lane
    /// multiply and add): the measured sgemm rate over this is the vector unit's instruction rate.
    public var flopsPerVectorInstruction: Double {
        switch self { case .avx512: 32; case .avx2: 16; case .baseline: 4 }
    }
}

/// The C loops, run in the variant of the best instruction set this processor has, or the one
/// WIDENET_CPU_ISA=avx512|avx2|baseline forces (every variant gives the same bits; forcing one is
/// for tests and measurements).
public enum CPUKernels {
    /// The variant in use: WIDENET_CPU_ISA's when it names one this processor runs, else the best.
    public static let instructionSet: CPUInstructionSet = (try? resolve()) ?? best

    public static var best: CPUInstructionSet { CPUInstructionSet.allCases.first { $0.isSupported } ?? .baseline }

    /// WIDENET_CPU_ISA checked: the run refuses an unknown or unsupported name rather than ignore it.
    public static func resolve(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CPUInstructionSet {
        guard let name = environment["WIDENET_CPU_ISA"], !name.isEmpty else { return best }
        guard let isa = CPUInstructionSet(rawValue: name.lowercased()) else {
            throw BackendError("WIDENET_CPU_ISA=\(name): not one of \(CPUInstructionSet.allCases.map(\.rawValue).joined(separator: ", "))", .usage)
        }
        guard isa.isSupported else {
            throw BackendError("WIDENET_CPU_ISA=\(name): this processor does not run it (it runs \(CPUInstructionSet.allCases.filter(\.isSupported).map(\.rawValue).joined(separator: ", ")))", .resources)
        }
        return isa
    }

    /// out[i] = tanh(in[i]); in and out may be the same. At most 2 ulp from the correctly rounded
    /// value over every float (Benchmarks/tanh_error.sh).
    public static func tanh(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int,
                            in isa: CPUInstructionSet = instructionSet) {
        wn_tanh_f32(isa.code, input, output, count)
    }

    /// Normals of Philox groups firstGroup …, four per group, as T(value) · scale (Float or Double).
    static func normals<T: BinaryFloatingPoint>(key: SIMD2<UInt32>, stream: UInt32, step: UInt32, firstGroup: UInt64, groups: Int,
                                                scale: T, into out: UnsafeMutablePointer<T>, in isa: CPUInstructionSet = instructionSet) {
        if T.self == Float.self {
            wn_philox_normals_f32(isa.code, key.x, key.y, stream, step, firstGroup, groups, Float(scale),
                                  UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self))
        } else {
            precondition(T.self == Double.self, "CPUKernels.normals: Float or Double only")
            wn_philox_normals_f64(isa.code, key.x, key.y, stream, step, firstGroup, groups, Double(scale),
                                  UnsafeMutableRawPointer(out).assumingMemoryBound(to: Double.self))
        }
    }

    /// Σ a_i b_i in eight lanes added in a fixed tree.
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
                           in isa: CPUInstructionSet = instructionSet) -> Float {
        wn_dot_f32(isa.code, a, b, count)
    }
}

/// Element functions over a row, in the fastest form each precision has: Float through the C
/// loops, Double through libm (its hot paths are f32).
public protocol ElementKernels {
    static func tanhRow(_ input: UnsafePointer<Self>, _ output: UnsafeMutablePointer<Self>, count: Int)
    /// Σ a_i b_i (Float: in eight lanes; Double: in order, as the f64 reference always summed).
    static func dotRow(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, count: Int) -> Self
}

extension Float: ElementKernels {
    public static func tanhRow(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        CPUKernels.tanh(input, output, count: count)
    }
    public static func dotRow(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        CPUKernels.dot(a, b, count: count)
    }
}

extension Double: ElementKernels {
    public static func tanhRow(_ input: UnsafePointer<Double>, _ output: UnsafeMutablePointer<Double>, count: Int) {
        for i in 0..<count { output[i] = Foundation.tanh(input[i]) }
    }
    public static func dotRow(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, count: Int) -> Double {
        var acc = 0.0
        for i in 0..<count { acc += a[i] * b[i] }
        return acc
    }
}
