// swift-tools-version:6.0
// A program that uses SwiftGLM the way another package would: by version, through a git URL.
//
// The URL defaults to the SwiftGLM repository this example sits in (`file://` of the folder two levels
// up), so `swift run` here resolves SwiftGLM from that repository's version tags. `.ci/run` points it
// at a temporary clone tagged with a version instead (SWIFTGLM_PACKAGE_URL), which proves that the
// library's products carry no unsafe flags and build as a versioned dependency.
import Foundation
import PackageDescription

let defaultURL = URL(fileURLWithPath: Context.packageDirectory)
    .deletingLastPathComponent().deletingLastPathComponent().absoluteString
let swiftGLMURL = Context.environment["SWIFTGLM_PACKAGE_URL"] ?? defaultURL
/// SwiftPM names a URL dependency by the URL's last path component.
let swiftGLMIdentity = URL(string: swiftGLMURL)!.deletingPathExtension().lastPathComponent

let package = Package(
    name: "FillBlank",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: swiftGLMURL, from: "0.7.0"),
    ],
    targets: [
        .executableTarget(name: "FillBlank", dependencies: [.product(name: "SwiftGLM", package: swiftGLMIdentity)]),
    ],
    swiftLanguageModes: [.v6]
)
