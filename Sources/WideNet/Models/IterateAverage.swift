import Foundation

/// The Polyak–Ruppert average of a net's iterates, w̄_k = (1/k) Σ_{j≤k} w_j over the iterates since
/// averaging began, kept on the device beside the net's blocks (one buffer per own block, the
/// output weights too when they are trained) and updated in place by running_mean, so no iterate
/// is stored and nothing crosses to the host.
final class IterateAverage<T: Scalar> {
    let net: NTKTwoLayerNet<T>
    let hidden: [any DeviceBuffer]
    /// The output weights' averages when they are trained; the net's own otherwise (they do not move).
    let output: [any DeviceBuffer]
    /// Iterates averaged so far (0: not started).
    private(set) var terms = 0

    init(_ net: NTKTwoLayerNet<T>) throws {
        self.net = net
        let b = net.backend, stride = MemoryLayout<T>.stride
        hidden = try net.blocks.map { try b.allocate(bytes: $0.shape.width * net.d * stride) }
        output = try net.blocks.map { net.trainOutput ? try b.allocate(bytes: $0.shape.width * stride) : $0.a }
    }

    /// Adds the net's current weights as the next term.
    func add() throws {
        terms += 1
        let weight = T(1) / T(terms), stride = MemoryLayout<T>.stride
        for (k, block) in net.blocks.enumerated() {
            // The first term is a copy: the new buffers hold whatever the allocator left, and m + 1·(w − m) rounds.
            if terms == 1 {
                try net.backend.copy(block.w, to: hidden[k], bytes: block.shape.width * net.d * stride)
                if net.trainOutput { try net.backend.copy(block.a, to: output[k], bytes: block.shape.width * stride) }
                continue
            }
            try net.backend.runningMean(hidden[k], toward: block.w, count: block.shape.width * net.d, weight: weight)
            if net.trainOutput { try net.backend.runningMean(output[k], toward: block.a, count: block.shape.width, weight: weight) }
        }
    }

    /// f̄(X) on the net's current samples.
    func forward() throws -> [Double] { try net.forward(hidden: hidden, output: output) }

    /// The averaged weights of every neuron, m×d and m (gathered from every rank).
    func values() throws -> (w: [T], a: [T]) { try net.gathered(hidden: hidden, output: output) }

    /// This process's averaged weights (own neurons in order) and the term count, for a checkpoint.
    func ownValues() throws -> (w: [T], a: [T]) {
        var w: [T] = [], a: [T] = []
        for (k, block) in net.blocks.enumerated() {
            w += try net.backend.download(hidden[k], count: block.shape.width * net.d, as: T.self)
            a += try net.backend.download(output[k], count: block.shape.width, as: T.self)
        }
        return (w, a)
    }

    /// Puts back what ownValues() returned, after `terms` terms.
    func restore(w: [T], a: [T], terms: Int) throws {
        let d = net.d
        var at = 0
        for (k, block) in net.blocks.enumerated() {
            let width = block.shape.width
            try net.backend.upload(Array(w[(at * d)..<((at + width) * d)]), to: hidden[k])
            if net.trainOutput { try net.backend.upload(Array(a[at..<(at + width)]), to: output[k]) }
            at += width
        }
        self.terms = terms
    }
}
