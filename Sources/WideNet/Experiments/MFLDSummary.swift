import Foundation

/// summary.json of `widenet mfld` (its own fields; RunSummary adds the common ones).
public struct MFLDSummary: Codable, Sendable {
    public var precision: String
    public var particles: Int, n: Int, d: Int, steps: Int
    /// D = d + 2 coordinates per particle, and the pair the report's scatter draws.
    public var coordinates: Int, scatter: [Int]
    public var finalLoss: Double?, finalTestLoss: Double?, finalRegulariser: Double?, finalEntropy: Double?
    public var finalObjective: Double?, finalTrainAccuracy: Double?, finalTestAccuracy: Double?, finalLambda: Double?
    /// Means over the last quarter of the logged rows: the stationary level.
    public var tailLoss: Double?, tailLossPlusRegulariser: Double?
    /// The entropy estimate's bias at this sample size (EntropyBias), and the final entropy with
    /// it removed; the objective in the rows uses the uncorrected estimate.
    public var entropyBias: EntropyBias?, finalEntropyCorrected: Double?
    /// With the data term off: the sample against the exact Gaussian law of the discrete chain.
    public var gaussianCheck: GaussianCheck?

    /// In the order summary.json lists them (a synthesised encoding follows the cases).
    enum CodingKeys: String, CodingKey {
        case precision, particles, n, d, steps, coordinates, scatter
        case finalLoss = "final_loss", finalTestLoss = "final_test_loss", finalRegulariser = "final_regulariser"
        case finalEntropy = "final_entropy", finalObjective = "final_objective", finalTrainAccuracy = "final_train_accuracy"
        case finalTestAccuracy = "final_test_accuracy", finalLambda = "final_lambda", tailLoss = "tail_loss"
        case tailLossPlusRegulariser = "tail_loss_plus_regulariser", entropyBias = "entropy_bias"
        case finalEntropyCorrected = "final_entropy_corrected", gaussianCheck = "gaussian_check"
    }
}

/// Per-coordinate means and variances of a particle sample against the predicted Gaussian law of
/// the chain that ran (MFLDConfig.noDataLaw: its annealing schedule, PDA's inner steps and the
/// transient from its start included).
public struct GaussianCheck: Codable, Sendable {
    public var sample: Int
    /// The variance every coordinate is predicted to have when they share it (a drawn start);
    /// nil when they differ (given particles: see predictedVariances).
    public var predictedVariance: Double?
    /// The discrete chain's stationary variance λ/(2λ'(1 − ηλ')) and the continuous-time λ/(2λ'),
    /// both at the final temperature λ (nil, +∞, without weight decay).
    public var stationaryVariance: Double?, continuousTimeVariance: Double?
    public var means: [Double], variances: [Double]
    public var maxAbsZMean: Double?, maxAbsZVariance: Double?
    /// The predicted law per coordinate (w_1..w_d, b, a), from the start's own means and variances.
    public var predictedMeans: [Double], predictedVariances: [Double]
    /// The start the prediction propagates: "drawn N(0, s²)" or "given (--init-particles)".
    public var initial: String
    /// λ at the last step (the annealed temperature).
    public var finalLambda: Double

    enum CodingKeys: String, CodingKey {
        case sample, predictedVariance = "predicted_variance", stationaryVariance = "stationary_variance"
        case continuousTimeVariance = "continuous_time_variance", means, variances, maxAbsZMean = "max_abs_z_mean"
        case maxAbsZVariance = "max_abs_z_variance", predictedMeans = "predicted_means", predictedVariances = "predicted_variances"
        case initial, finalLambda = "final_lambda"
    }
}
