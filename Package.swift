// swift-tools-version:6.0
// Lattice — the bank marketing platform. No package dependencies by design: Foundation, Dispatch,
// Glibc, and the C libraries libpq and libcurl through system-library targets.
import PackageDescription

let package = Package(
    name: "Lattice",
    products: [
        .library(name: "Contracts", targets: ["Contracts"]),
        .library(name: "HTTP", targets: ["HTTP"]),
        .library(name: "Postgres", targets: ["Postgres"]),
        .library(name: "ServiceKit", targets: ["ServiceKit"]),
    ],
    targets: [
        // C interop
        .systemLibrary(name: "CLibPQ", path: "Shared/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", path: "Shared/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "CLinux", path: "Shared/CLinux"),

        // Shared libraries
        .target(name: "Contracts", path: "Shared/Contracts"),
        .target(name: "HTTP", dependencies: ["Contracts", "CLinux", "CCurl"], path: "Shared/HTTP"),
        .target(name: "Postgres", dependencies: ["CLibPQ"], path: "Shared/Postgres"),
        .target(name: "ServiceKit", dependencies: ["Contracts", "HTTP", "Postgres"], path: "Shared/ServiceKit"),

        // Services: a library with the domain (unit-testable) and a thin executable that wires it.
        .target(name: "Gateway", dependencies: ["ServiceKit"], path: "Services/Gateway/Sources",
                resources: [.copy("Migrations")]),
        .executableTarget(name: "lattice-gateway", dependencies: ["Gateway"], path: "Services/Gateway/Main"),
        .target(name: "Profile", dependencies: ["ServiceKit"], path: "Services/Profile/Sources",
                resources: [.copy("Migrations")]),
        .executableTarget(name: "lattice-profile", dependencies: ["Profile"], path: "Services/Profile/Main"),
        .target(name: "Segment", dependencies: ["ServiceKit"], path: "Services/Segment/Sources",
                resources: [.copy("Migrations")]),
        .executableTarget(name: "lattice-segment", dependencies: ["Segment"], path: "Services/Segment/Main"),
        .target(name: "Dispatcher", dependencies: ["ServiceKit"], path: "Services/Dispatcher/Sources",
                resources: [.copy("Migrations")]),
        .executableTarget(name: "lattice-dispatcher", dependencies: ["Dispatcher"], path: "Services/Dispatcher/Main"),
        .target(name: "Canvas", dependencies: ["ServiceKit"], path: "Services/Canvas/Sources",
                resources: [.copy("Migrations")]),
        .executableTarget(name: "lattice-canvas", dependencies: ["Canvas"], path: "Services/Canvas/Main"),
        .target(name: "Rewards", dependencies: ["ServiceKit"], path: "Services/Rewards/Sources",
                resources: [.copy("Migrations")]),
        .executableTarget(name: "lattice-rewards", dependencies: ["Rewards"], path: "Services/Rewards/Main"),
        .target(name: "Analytics", dependencies: ["ServiceKit"], path: "Services/Analytics/Sources",
                resources: [.copy("Migrations")]),
        .executableTarget(name: "lattice-analytics", dependencies: ["Analytics"], path: "Services/Analytics/Main"),

        // Test support shared by test targets: fixture processes, the test database.
        .target(name: "TestSupport", dependencies: ["Postgres", "HTTP", "Contracts"], path: "Tests/TestSupport"),

        // Test fixtures: small executables the tests and benchmarks start as real processes.
        .executableTarget(name: "HTTPBenchServer", dependencies: ["HTTP"], path: "Tests/Fixtures/HTTPBenchServer"),
        .executableTarget(name: "OutboxRelayFixture", dependencies: ["ServiceKit"], path: "Tests/Fixtures/OutboxRelayFixture"),
        .executableTarget(name: "ServiceFixture", dependencies: ["ServiceKit"], path: "Tests/Fixtures/ServiceFixture"),
        .executableTarget(name: "ProviderSimulator", dependencies: ["HTTP"], path: "Tests/Fixtures/ProviderSimulator"),
        .executableTarget(name: "SegmentBench", dependencies: ["Segment", "TestSupport"], path: "Tests/Fixtures/SegmentBench"),
        .executableTarget(name: "AnalyticsBench", dependencies: ["Analytics", "TestSupport"], path: "Tests/Fixtures/AnalyticsBench"),

        // Tests
        .testTarget(name: "ContractsTests", dependencies: ["Contracts", "TestSupport"], path: "Tests/ContractsTests"),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP"], path: "Tests/HTTPTests"),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres"], path: "Tests/PostgresTests"),
        .testTarget(name: "ServiceKitTests", dependencies: ["ServiceKit", "TestSupport"], path: "Tests/ServiceKitTests"),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "TestSupport"], path: "Tests/GatewayTests"),
        .testTarget(name: "ProfileTests", dependencies: ["Profile", "Gateway", "TestSupport"], path: "Tests/ProfileTests"),
        .testTarget(name: "SegmentTests", dependencies: ["Segment", "TestSupport"], path: "Tests/SegmentTests"),
        .testTarget(name: "SegmentServiceTests", dependencies: ["Segment", "Gateway", "TestSupport"],
                    path: "Tests/SegmentServiceTests"),
        .testTarget(name: "DispatcherTests", dependencies: ["Dispatcher", "Gateway", "TestSupport"], path: "Tests/DispatcherTests"),
        .testTarget(name: "CanvasTests", dependencies: ["Canvas", "Gateway", "TestSupport"], path: "Tests/CanvasTests"),
        .testTarget(name: "RewardsTests", dependencies: ["Rewards", "Gateway", "TestSupport"], path: "Tests/RewardsTests"),
        .testTarget(name: "AnalyticsTests", dependencies: ["Analytics", "Gateway", "TestSupport"], path: "Tests/AnalyticsTests"),
    ],
    swiftLanguageModes: [.v6]
)
