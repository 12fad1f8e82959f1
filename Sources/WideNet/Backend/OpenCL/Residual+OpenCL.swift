extension OpenCLBackend {
    public func biasActivation<T: Scalar>(_ z: any DeviceBuffer, bias c: any DeviceBuffer, activations a: any DeviceBuffer, rows: Int, columns m: Int,
                                          activation: Activation, as: T.Type) throws {
        let count = rows * m
        guard count > 0 else { return }
        let plan = LaunchPlans.elementwise("resnet_bias_activation")
        let k = try kernel([.resnet], plan.kernel, options: try options(T.self, ["-DEWG=\(plan.local[0])", "-DACT=\(activation.kernelCode)"]))
        try cl.launch(k, plan, args: [.int64(Int64(count)), .int(m), .buffer(buffer(z)), .buffer(buffer(c)), .buffer(buffer(a))])
    }

    public func activationBackward<T: Scalar>(_ d: any DeviceBuffer, preactivations z: any DeviceBuffer, activations a: any DeviceBuffer, count: Int,
                                              scale s: T, activation: Activation) throws {
        guard count > 0 else { return }
        let plan = LaunchPlans.elementwise("resnet_activation_backward")
        let k = try kernel([.resnet], plan.kernel, options: try options(T.self, ["-DEWG=\(plan.local[0])", "-DACT=\(activation.kernelCode)"]))
        try cl.launch(k, plan, args: [.int64(Int64(count)), .real(s), .buffer(buffer(d)), .buffer(buffer(z)), .buffer(buffer(a))])
    }

    public func axpby<T: Scalar>(_ a: T, _ x: any DeviceBuffer, _ b: T, _ y: any DeviceBuffer, count: Int) throws {
        guard count > 0 else { return }
        let plan = LaunchPlans.elementwise("resnet_axpby")
        let k = try kernel([.resnet], plan.kernel, options: try options(T.self, ["-DEWG=\(plan.local[0])"]))
        try cl.launch(k, plan, args: [.int64(Int64(count)), .real(a), .buffer(buffer(x)), .real(b), .buffer(buffer(y))])
    }

    public func parameterStep<T: Scalar>(_ theta: any DeviceBuffer, gradient g: any DeviceBuffer, first: any DeviceBuffer, second: any DeviceBuffer,
                                         count: Int, rule: ParameterRule, as: T.Type) throws {
        guard count > 0 else { return }
        let plan = LaunchPlans.elementwise("parameter_step")
        let k = try kernel([.resnet], plan.kernel, options: try options(T.self, ["-DEWG=\(plan.local[0])", "-DOPT=\(rule.optimizer.kernelCode)"]))
        let (c1, c2) = rule.corrections
        try cl.launch(k, plan, args: [.int64(Int64(count)), .real(T(rule.learningRate)), .real(T(rule.beta1)), .real(T(rule.beta2)),
                                      .real(T(rule.epsilon)), .real(T(c1)), .real(T(c2)), .buffer(buffer(theta)), .buffer(buffer(g)),
                                      .buffer(buffer(first)), .buffer(buffer(second))])
    }
}
