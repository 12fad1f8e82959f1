import Foundation

/// summary.json of `widenet train` (its own fields; RunSummary adds the common ones).
public struct TrainSummary: Codable, Sendable {
    public var precision: String
    public var n: Int, d: Int, width: Int, steps: Int
    public var lr: Double, lambda0: Double, lambdaMax: Double
    public var initialLoss: Double
    public var finalLoss: Double?
    /// Whether ‖u(k) − y‖² ≤ (1 − ηλ0/2)^k ‖u(0) − y‖² held at every step, and where it first failed.
    /// nil under the mean-field scaling, where neither the bound nor the kernel prediction applies.
    public var boundHolds: Bool?, boundViolations: Int?, firstBoundViolation: Int?
    /// The largest ‖u(k) − u_ker(k)‖ / ‖u(0) − y‖ over the run.
    public var maxKernelDeviation: Double?
    public var finalMaxMove: Double?, finalFlipFraction: Double?
    public var lambdaMinHInitial: Double?, lambdaMinHFinal: Double?
    /// The least λ_min(H(k)) over the steps it was computed at (--gram-every).
    public var lambdaMinHLeast: Double?
    /// Where the loss stopped following the kernel prediction for rounding (f32 only): over the
    /// last quarter of the logged steps the prediction fell more than 100-fold, the loss less than a
    /// tenth as much, and it ended 100× above the prediction. nil: the run did not reach it.
    public var precisionFloor: Double?
    /// √(2yᵀH⁻¹y/n) (Arora et al.'s complexity; nil without the fine-grained analysis).
    public var complexity: Double?
    /// --target-loss and the step that reached it (the run stopped there; nil: not reached).
    public var targetLoss: Double?, targetReachedAt: Int?
    /// With --dataset teacher: Σ_r ‖P w_r‖² / Σ_r ‖w_r‖² (P onto the teacher's units' span) at the start and the end.
    public var teacherAlignmentInitial: Double?, teacherAlignment: Double?

    /// In the order summary.json lists them (a synthesised encoding follows the cases).
    enum CodingKeys: String, CodingKey {
        case precision, n, d, width, steps, lr, lambda0
        case lambdaMax = "lambda_max", initialLoss = "initial_loss", finalLoss = "final_loss", boundHolds = "bound_holds"
        case boundViolations = "bound_violations", firstBoundViolation = "first_bound_violation"
        case maxKernelDeviation = "max_kernel_deviation", finalMaxMove = "final_max_move", finalFlipFraction = "final_flip_fraction"
        case lambdaMinHInitial = "lambda_min_h_initial", lambdaMinHFinal = "lambda_min_h_final", lambdaMinHLeast = "lambda_min_h_least"
        case precisionFloor = "precision_floor", complexity, targetLoss = "target_loss", targetReachedAt = "target_reached_at"
        case teacherAlignmentInitial = "teacher_alignment_initial", teacherAlignment = "teacher_alignment"
    }
}
