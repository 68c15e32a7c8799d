// swift-tools-version: 6.0
// LegSeg: leg-muscle segmentation of MRI. One library per layer; C is fenced into the C* targets.
// Dependency rule (see ARCHITECTURE.md): IO and Engine import no other LegSeg module; DNNL imports Engine;
// Pipeline and Training import IO and Engine; Phantom imports IO; only the `legseg` executable picks a backend.
import PackageDescription

// Voxel loops over real-size volumes are 10-50x slower unoptimised; these modules are compiled with -O in debug
// builds too, so `swift test` (debug) runs real-data and phantom tests in seconds. -O keeps Swift's overflow and
// bounds checks (unlike -Ounchecked), so malformed input still cannot corrupt memory.
let optimizedEvenInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "LegSeg",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "legseg", targets: ["legseg"]),
        .library(name: "LegSegIO", targets: ["LegSegIO"]),
        .library(name: "LegSegEngine", targets: ["LegSegEngine"]),
        .library(name: "LegSegDNNL", targets: ["LegSegDNNL"]),
        .library(name: "LegSegPipeline", targets: ["LegSegPipeline"]),
        .library(name: "LegSegTraining", targets: ["LegSegTraining"]),
        .library(name: "LegSegPhantom", targets: ["LegSegPhantom"]),
        .library(name: "LegSegModels", targets: ["LegSegModels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries from Debian packages: zlib1g-dev and libdnnl-dev.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),

        // Volumes, NIfTI, gzip, atomic files. Imports CZlib only.
        .target(name: "LegSegIO", dependencies: ["CZlib"], swiftSettings: optimizedEvenInDebug),
        // Tensors, the Backend protocol, layers and autograd. Imports no C module.
        .target(name: "LegSegEngine", swiftSettings: optimizedEvenInDebug),
        // The oneDNN implementation of Backend: the only module that imports CDNNL.
        .target(name: "LegSegDNNL", dependencies: ["LegSegEngine", "CDNNL"], swiftSettings: optimizedEvenInDebug),
        // The SegmentData pipeline (masking, sides, regions, patching, merge, statistics).
        .target(name: "LegSegPipeline", dependencies: ["LegSegIO", "LegSegEngine"], swiftSettings: optimizedEvenInDebug),
        // Losses, optimisers, augmentation and the training loop.
        .target(name: "LegSegTraining", dependencies: ["LegSegIO", "LegSegEngine"], swiftSettings: optimizedEvenInDebug),
        // Synthetic leg phantoms with known truth.
        .target(name: "LegSegPhantom", dependencies: ["LegSegIO"], swiftSettings: optimizedEvenInDebug),

        // The trained default networks (model JSON + safetensors) as package resources. No code dependencies.
        .target(name: "LegSegModels", resources: [.copy("DefaultModels")]),

        // Shared test helpers (fixture locator, real-data gate, closeness checks). Not a product.
        .target(name: "LegSegTestSupport", dependencies: ["LegSegIO"]),

        .executableTarget(name: "legseg", dependencies: [
            "LegSegIO", "LegSegEngine", "LegSegDNNL", "LegSegPipeline", "LegSegTraining", "LegSegPhantom", "LegSegModels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "LegSegIOTests", dependencies: ["LegSegIO", "LegSegTestSupport"],
                    resources: [.copy("Fixtures")]),
        // Depends on the executable so that `swift test` builds the `legseg` binary the CLI tests run.
        .testTarget(name: "LegSegCLITests", dependencies: ["legseg", "LegSegIO", "LegSegEngine", "LegSegTestSupport"]),
        .testTarget(name: "LegSegEngineTests", dependencies: ["LegSegEngine", "LegSegDNNL", "LegSegTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LegSegPipelineTests", dependencies: ["LegSegPipeline", "LegSegIO", "LegSegEngine", "LegSegDNNL", "LegSegTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LegSegTrainingDataTests", dependencies: ["LegSegTraining", "LegSegIO", "LegSegEngine", "LegSegDNNL", "LegSegTestSupport"]),
        .testTarget(name: "LegSegTrainingTests",
                    dependencies: ["LegSegTraining", "LegSegEngine", "LegSegDNNL", "LegSegTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LegSegPhantomTests", dependencies: ["LegSegPhantom", "LegSegIO", "LegSegTestSupport"]),
    ]
)
