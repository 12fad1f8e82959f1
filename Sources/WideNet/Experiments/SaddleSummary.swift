import Foundation

/// summary.json of `widenet saddle` (its own fields; RunSummary adds the common ones).
public struct SaddleSummary: Codable, Sendable {
    public var initialLoss: Double?, finalLoss: Double?
    public var finalRank: Int?
    /// What the singular values are of (UnitDiagnostics.mapDescription).
    public var singularValuesOf: String
    public var finalSingularValues: [Double], teacherSingularValues: [Double]
    /// What the teacher's singular values are of: the spectrum the learned map approaches, on the scale
    /// `singular_values_of` measures (the least-squares map for a linear net, unless the teacher's own s on whitened inputs);
    /// nil in summaries of an earlier widenet.
    public var teacherSingularValuesOf: String?
    /// σ₁(YᵀX/n), the unstable rate of GD at the origin (linear and tanh nets; nil for relu, not differentiable there).
    public var originRate: Double?
    public var rankThreshold: Double
    /// The steps at which the rank first reaches 1, 2, …: the drops of the staircase.
    public var rankReachedAt: [Double]
    /// The ranks the logged steps pass through, each once, in order: the staircase climbed
    /// (0, 1, 2, … when no stage is missed or taken two at a time).
    public var ranksVisited: [Int]?
    public var plateaus: [PlateauRecord], plateauCount: Int
    public var drops: [DropRecord], dropCount: Int, ranksAfterDrops: [Double]
    public var targetLoss: Double?, stepsToTarget: Int?, secondsToTarget: Double?
    /// With --skip-plateaus.
    public var jumps: [JumpRecord]?, jumpCount: Int?, ranksAfterJumps: [Double]?, stepsReplacedByJumps: Double?

    /// In the order summary.json lists them (a synthesised encoding follows the cases).
    enum CodingKeys: String, CodingKey {
        case initialLoss = "initial_loss", finalLoss = "final_loss", finalRank = "final_rank"
        case singularValuesOf = "singular_values_of", finalSingularValues = "final_singular_values", teacherSingularValues = "teacher_singular_values"
        case teacherSingularValuesOf = "teacher_singular_values_of", originRate = "origin_rate"
        case rankThreshold = "rank_threshold", rankReachedAt = "rank_reached_at", ranksVisited = "ranks_visited", plateaus, plateauCount = "plateau_count"
        case drops, dropCount = "drop_count", ranksAfterDrops = "ranks_after_drops", targetLoss = "target_loss"
        case stepsToTarget = "steps_to_target", secondsToTarget = "seconds_to_target", jumps, jumpCount = "jump_count"
        case ranksAfterJumps = "ranks_after_jumps", stepsReplacedByJumps = "steps_replaced_by_jumps"
    }

    public struct PlateauRecord: Codable, Sendable {
        public var start: Int, end: Int, length: Int, loss: Double, rank: Int
        /// Amari's singular regions at the plateau's middle.
        public var deadUnits: Int?, duplicatePairs: Int?
        enum CodingKeys: String, CodingKey {
            case start, end, length, loss, rank, deadUnits = "dead_units", duplicatePairs = "duplicate_pairs"
        }
    }

    public struct DropRecord: Codable, Sendable {
        public var start: Int, peak: Int, end: Int, lossBefore: Double, lossAfter: Double, rankBefore: Int, rankAfter: Int
        enum CodingKeys: String, CodingKey {
            case start, peak, end, lossBefore = "loss_before", lossAfter = "loss_after", rankBefore = "rank_before", rankAfter = "rank_after"
        }
    }

    public struct JumpRecord: Codable, Sendable {
        public var step: Int, stepsReplaced: Double, lossBefore: Double, lossAfter: Double, topRate: Double, rankAfter: Int
        enum CodingKeys: String, CodingKey {
            case step, stepsReplaced = "steps_replaced", lossBefore = "loss_before", lossAfter = "loss_after"
            case topRate = "top_rate", rankAfter = "rank_after"
        }
    }
}
