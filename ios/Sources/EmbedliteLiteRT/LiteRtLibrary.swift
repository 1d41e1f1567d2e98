import CLiteRt
import EmbedliteKit
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LiteRT's C API, looked up in a loaded libLiteRt (2.x; the declarations follow LiteRT 2.3.0).
///
/// Where the library comes from: `LiteRtLibrary.load(path:)` with a path (tests pass the ai-edge-litert wheel's
/// libLiteRt.so through EMBEDLITE_LITERT_LIB); with none, `EMBEDLITE_LITERT_LIB`, then on Apple platforms
/// `LiteRt.framework` inside the app's Frameworks folder, then the symbols of the running process (an app
/// that links LiteRT), then `libLiteRt.so` on the loader's search path.
public final class LiteRtLibrary: @unchecked Sendable {
    public let source: String

    let createEnvironment: LiteRtCreateEnvironmentFn
    let destroyEnvironment: LiteRtDestroyEnvironmentFn
    let createModelFromFile: LiteRtCreateModelFromFileFn
    let destroyModel: LiteRtDestroyModelFn
    let getNumModelSignatures: LiteRtGetNumModelSignaturesFn
    let getModelSignature: LiteRtGetModelSignatureFn
    let getSignatureKey: LiteRtGetSignatureKeyFn
    let getNumSignatureInputs: LiteRtGetSignatureCountFn
    let getNumSignatureOutputs: LiteRtGetSignatureCountFn
    let getSignatureInputName: LiteRtGetSignatureNameFn
    let getSignatureInputTensor: LiteRtGetSignatureTensorByIndexFn
    let getSignatureOutputTensor: LiteRtGetSignatureTensorByIndexFn
    let getRankedTensorType: LiteRtGetRankedTensorTypeFn
    let createOptions: LiteRtCreateOptionsFn
    let destroyOptions: LiteRtDestroyOptionsFn
    let setHardwareAccelerators: LiteRtSetOptionsHardwareAcceleratorsFn
    let createCompiledModel: LiteRtCreateCompiledModelFn
    let destroyCompiledModel: LiteRtDestroyCompiledModelFn
    let inputRequirements: LiteRtGetCompiledModelBufferRequirementsFn
    let outputRequirements: LiteRtGetCompiledModelBufferRequirementsFn
    let runCompiledModel: LiteRtRunCompiledModelFn
    let createBuffer: LiteRtCreateManagedTensorBufferFromRequirementsFn
    let destroyBuffer: LiteRtDestroyTensorBufferFn
    let packedSize: LiteRtGetTensorBufferPackedSizeFn
    let lockBuffer: LiteRtLockTensorBufferFn
    let unlockBuffer: LiteRtUnlockTensorBufferFn

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [String: LiteRtLibrary] = [:]

    /// The library at `path`, or found as described above; loaded once per path and kept for the process.
    public static func load(path: String? = nil) throws -> LiteRtLibrary {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        let (handle, source) = try open(path ?? ProcessInfo.processInfo.environment["EMBEDLITE_LITERT_LIB"])
        if let cached = cache[source] { return cached }
        let library = try LiteRtLibrary(handle: handle, source: source)
        cache[source] = library
        return library
    }

    private static func open(_ path: String?) throws -> (UnsafeMutableRawPointer?, String) {
        if let path {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
                throw EmbedliteError.runtime("LiteRT could not be loaded from \(path): \(lastDlError())")
            }
            return (handle, path)
        }
        #if canImport(Darwin)
        if let frameworks = Bundle.main.privateFrameworksPath {
            let bundled = frameworks + "/LiteRt.framework/LiteRt"
            if FileManager.default.fileExists(atPath: bundled) { return try open(bundled) }
        }
        let processScope = UnsafeMutableRawPointer(bitPattern: -2)  // RTLD_DEFAULT
        #else
        let processScope: UnsafeMutableRawPointer? = nil  // RTLD_DEFAULT
        #endif
        if dlsym(processScope, "LiteRtCreateCompiledModel") != nil { return (processScope, "the running process") }
        #if canImport(Darwin)
        throw EmbedliteError.runtime(
            "LiteRT was not found: embed LiteRt.framework in the app (see ios/README.md) or link libLiteRt")
        #else
        guard let handle = dlopen("libLiteRt.so", RTLD_NOW | RTLD_LOCAL) else {
            throw EmbedliteError.runtime(
                "LiteRT was not found: set EMBEDLITE_LITERT_LIB to libLiteRt.so (pip install ai-edge-litert ships it "
                    + "in site-packages/ai_edge_litert/): \(lastDlError())")
        }
        return (handle, "libLiteRt.so")
        #endif
    }

    private static func lastDlError() -> String { dlerror().map { String(cString: $0) } ?? "unknown error" }

    private init(handle: UnsafeMutableRawPointer?, source: String) throws {
        func symbol<T>(_ name: String, _ type: T.Type = T.self) throws -> T {
            guard let pointer = dlsym(handle, name) else {
                throw EmbedliteError.runtime(
                    "\(source) has no \(name): EmbedliteLiteRT needs LiteRT 2.x's C API (written against 2.3.0)")
            }
            return unsafeBitCast(pointer, to: T.self)
        }
        self.source = source
        createEnvironment = try symbol("LiteRtCreateEnvironment")
        destroyEnvironment = try symbol("LiteRtDestroyEnvironment")
        createModelFromFile = try symbol("LiteRtCreateModelFromFile")
        destroyModel = try symbol("LiteRtDestroyModel")
        getNumModelSignatures = try symbol("LiteRtGetNumModelSignatures")
        getModelSignature = try symbol("LiteRtGetModelSignature")
        getSignatureKey = try symbol("LiteRtGetSignatureKey")
        getNumSignatureInputs = try symbol("LiteRtGetNumSignatureInputs")
        getNumSignatureOutputs = try symbol("LiteRtGetNumSignatureOutputs")
        getSignatureInputName = try symbol("LiteRtGetSignatureInputName")
        getSignatureInputTensor = try symbol("LiteRtGetSignatureInputTensorByIndex")
        getSignatureOutputTensor = try symbol("LiteRtGetSignatureOutputTensorByIndex")
        getRankedTensorType = try symbol("LiteRtGetRankedTensorType")
        createOptions = try symbol("LiteRtCreateOptions")
        destroyOptions = try symbol("LiteRtDestroyOptions")
        setHardwareAccelerators = try symbol("LiteRtSetOptionsHardwareAccelerators")
        createCompiledModel = try symbol("LiteRtCreateCompiledModel")
        destroyCompiledModel = try symbol("LiteRtDestroyCompiledModel")
        inputRequirements = try symbol("LiteRtGetCompiledModelInputBufferRequirements")
        outputRequirements = try symbol("LiteRtGetCompiledModelOutputBufferRequirements")
        runCompiledModel = try symbol("LiteRtRunCompiledModel")
        createBuffer = try symbol("LiteRtCreateManagedTensorBufferFromRequirements")
        destroyBuffer = try symbol("LiteRtDestroyTensorBuffer")
        packedSize = try symbol("LiteRtGetTensorBufferPackedSize")
        lockBuffer = try symbol("LiteRtLockTensorBuffer")
        unlockBuffer = try symbol("LiteRtUnlockTensorBuffer")
    }

    /// Throws a runtime error naming the call and LiteRT's status unless `status` is success.
    func check(_ status: LiteRtStatus, _ call: String) throws {
        guard status != 0 else { return }
        throw EmbedliteError.runtime("LiteRT \(call) failed: \(LiteRtLibrary.statusName(status))")
    }

    static func statusName(_ status: LiteRtStatus) -> String {
        let names: [LiteRtStatus: String] = [
            1: "invalid argument", 2: "memory allocation failure", 3: "runtime failure", 4: "missing input tensor",
            5: "unsupported", 6: "not found", 7: "timeout expired", 8: "wrong version", 9: "unknown error",
            10: "already exists", 100: "cancelled", 500: "file I/O error", 501: "invalid flatbuffer",
            502: "dynamic loading failed", 503: "serialization error", 504: "compilation failed",
        ]
        return "\(names[status] ?? "error") (status \(status))"
    }
}
