/// `--label-noise p` and `--random-labels` (Arora, Du, Hu, Li, Wang, ICML 2019: random labels
/// train slower and have the larger complexity √(2yᵀ(H∞)⁻¹y/n)). With probability p (1 for
/// random labels) a label is replaced by a random one: a class drawn uniformly when the labels
/// take at most `maxClasses` values (a classification), else the label of a sample drawn
/// uniformly (regression targets keep their distribution and lose their relation to x). The draws
/// come from Philox stream `labelNoise` of the data seed, two per sample.
enum LabelNoise {
    static let maxClasses = 16

    struct Result { var labels: [Double]; var drawn: Int; var changed: Int; var classes: [Double]? }

    static func corrupt(_ y: [Double], probability p: Double, seed: UInt64) -> Result {
        let distinct = Array(Set(y)).sorted()
        let classes = distinct.count <= maxClasses ? distinct : nil
        let u: [Double] = PhiloxGenerator(seed: seed).array(count: 2 * y.count, stream: RandomStream.labelNoise.rawValue, step: 0,
                                                            distribution: .uniform, scale: 1.0)
        var labels = y, drawn = 0, changed = 0
        for i in y.indices where u[2 * i] < p {
            let pick = u[2 * i + 1]
            if let classes {
                labels[i] = classes[min(Int(pick * Double(classes.count)), classes.count - 1)]
            } else {
                labels[i] = y[min(Int(pick * Double(y.count)), y.count - 1)]
            }
            drawn += 1
            if labels[i] != y[i] { changed += 1 }
        }
        return Result(labels: labels, drawn: drawn, changed: changed, classes: classes)
    }
}
