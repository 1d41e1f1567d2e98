// swift-tools-version:6.0
// EmbedliteKit: run embedlite model artifacts on iOS (and on Linux/macOS, where its tests run).
// The core depends on nothing but Foundation; the LiteRT backend loads LiteRT's C API at run time.
import PackageDescription

let package = Package(
    name: "EmbedliteKit",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "EmbedliteKit", targets: ["EmbedliteKit"]),
        .library(name: "EmbedliteLiteRT", targets: ["EmbedliteLiteRT"]),
    ],
    targets: [
        .target(name: "EmbedliteKit"),
        // The few LiteRT C API types and function signatures the backend calls, resolved with dlsym: no link step.
        .systemLibrary(name: "CLiteRt", path: "Sources/CLiteRt"),
        .target(name: "EmbedliteLiteRT", dependencies: ["EmbedliteKit", "CLiteRt"]),
        .testTarget(name: "EmbedliteKitTests", dependencies: ["EmbedliteKit", "EmbedliteLiteRT"]),
    ]
)
