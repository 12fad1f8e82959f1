import Foundation

/// What kind of failure an error is, and so the exit code the command line ends with (README,
/// "Exit codes"): one code per class, as sysexits(3) numbers them, so a script or scheduler can
/// tell a typo from bad data from a machine that is too small.
public enum FailureClass: Sendable {
    /// Options that are unknown, malformed, or contradict each other: 64.
    case usage
    /// Input that cannot be used: a malformed or non-finite file, shapes that disagree, a value out
    /// of range, a run that diverged or cannot be continued: 65.
    case badInput
    /// The machine cannot do it: memory, disk, no OpenCL driver or device, a device that lacks a
    /// feature, a kernel that fails to build or run: 69.
    case resources

    public var exitCode: Int32 {
        switch self {
        case .usage: 64
        case .badInput: 65
        case .resources: 69
        }
    }
}

/// An error of a class the library knows (everything else exits with 1).
public protocol ClassifiedError: Error {
    var failureClass: FailureClass { get }
}

extension BackendError: ClassifiedError {}
extension WideNetIOError: ClassifiedError {}
extension RunDiverged: ClassifiedError { public var failureClass: FailureClass { .badInput } }
extension CLError: ClassifiedError { public var failureClass: FailureClass { .resources } }

extension FailureClass {
    /// The class of `error`; nil for errors the library does not classify.
    public static func of(_ error: Error) -> FailureClass? { (error as? ClassifiedError)?.failureClass }
}
extension NPYError: ClassifiedError { public var failureClass: FailureClass { .badInput } }
