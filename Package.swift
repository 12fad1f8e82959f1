// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "WideNet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "widenet", targets: ["widenet"]),
        .library(name: "WideNet", targets: ["WideNet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // <CL/cl.h> pinned to OpenCL 1.2 (see Sources/COpenCL/shim.h).
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL",
                       providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]),
        // OpenBLAS cblas + LAPACKE.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        // The OpenCL C sources, embedded into the binary so it finds them wherever it is copied.
        .target(name: "WideNetKernels", path: "Kernels",
                exclude: ["README.md"],
                resources: [.embedInCode("cl")]),
        // The hot CPU loops in C, each compiled per x86-64 instruction set and chosen at run time;
        // optimised and without contraction even in debug builds, so every variant rounds alike.
        .target(name: "CWideNetCPU", path: "Sources/CWideNetCPU",
                cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off", "-fno-math-errno"])]),
        // Open MPI's C API through dlopen, only when a launcher started the process (Distributed/).
        .target(name: "CWideNetMPI", path: "Sources/CWideNetMPI", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "WideNet",
                dependencies: ["COpenCL", "CBLAS", "WideNetKernels", "CWideNetCPU", "CWideNetMPI",
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "RealModule", package: "swift-numerics")],
                // Swift 6 language mode: the one place where workers share raw pointers to disjoint
                // ranges (CPUBackend.parallelRanges) vouches for it explicitly.
                swiftSettings: [.swiftLanguageMode(.v6),
                                // The Gram matrices count shared activations with popcount; without this
                                // x86-64's baseline has no POPCNT instruction and Swift emits a slow
                                // software count. Every x86-64 CPU since 2008 has it.
                                .unsafeFlags(["-Xcc", "-mpopcnt"])]),
        // report.html of every kind of run, as a function of the files the run wrote.
        .target(name: "WideNetReports", dependencies: ["WideNet"]),
        .executableTarget(name: "widenet",
                          dependencies: ["WideNet", "WideNetReports",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "WideNetTests", dependencies: ["WideNet", "WideNetReports"]),
        // package-benchmark suites: `swift package benchmark`.
        .executableTarget(name: "CPUBackendBenchmarks",
                          dependencies: ["WideNet", "CBLAS", .product(name: "Benchmark", package: "benchmark")],
                          path: "Benchmarks/CPUBackend",
                          plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
