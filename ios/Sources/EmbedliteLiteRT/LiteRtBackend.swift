import CLiteRt
import EmbedliteKit
import Foundation

/// Which LiteRT accelerator runs the model.
public enum Accelerator: String, Sendable, CaseIterable {
    /// XNNPACK on the CPU: always available.
    case cpu
    /// LiteRT's GPU accelerator: Metal on iOS (libLiteRtMetalAccelerator), WebGPU over Vulkan elsewhere.
    case gpu
    /// A vendor NPU dispatch library (none on iPhones: Apple's Neural Engine is reached through Core ML).
    case npu
}

/// An `InferenceBackend` over LiteRT's CompiledModel C API: one model file, its `b{batch}_s{seq}` signatures
/// read from the file, int32 input_ids and attention_mask in, one float32 embedding per row out.
public final class LiteRtBackend: InferenceBackend {
    public let accelerator: Accelerator
    public let buckets: [Bucket]
    public var device: String {
        switch accelerator {
        case .cpu: return "LiteRT CPU (XNNPACK)"
        case .gpu: return "LiteRT GPU"
        case .npu: return "LiteRT NPU"
        }
    }

    private let api: LiteRtLibrary
    private let environment: LiteRtEnvironment
    private let model: LiteRtModel
    private let options: LiteRtOptions
    private let compiled: LiteRtCompiledModel
    private let signatureIndex: [Bucket: Int]
    private var runners: [Bucket: Runner] = [:]

    /// Compiles `model` (a model.tflite) for `accelerator`; an accelerator that cannot start is an error that
    /// says so (use `firstAvailable` to fall back).
    public init(model url: URL, accelerator: Accelerator = .cpu, library: LiteRtLibrary? = nil) throws {
        let api = try library ?? LiteRtLibrary.load()
        self.api = api
        self.accelerator = accelerator
        var environment: LiteRtEnvironment?
        try api.check(api.createEnvironment(0, nil, &environment), "CreateEnvironment")
        var model: LiteRtModel?
        let status = api.createModelFromFile(environment, url.path, &model)
        guard status == 0, let model else {
            api.destroyEnvironment(environment)
            throw EmbedliteError.invalidArtifact(
                "\(url.path) could not be loaded by LiteRT: \(LiteRtLibrary.statusName(status))")
        }
        var options: LiteRtOptions?
        var compiled: LiteRtCompiledModel?
        var created = api.createOptions(&options)
        if created == 0 { created = api.setHardwareAccelerators(options, LiteRtBackend.bits(accelerator)) }
        if created == 0 { created = api.createCompiledModel(environment, model, options, &compiled) }
        guard created == 0, let environment, let options, let compiled else {
            if options != nil { api.destroyOptions(options) }
            api.destroyModel(model)
            api.destroyEnvironment(environment)
            throw EmbedliteError.runtime(LiteRtBackend.unavailable(accelerator, status: created))
        }
        self.environment = environment
        self.model = model
        self.options = options
        self.compiled = compiled
        var index: [Bucket: Int] = [:]
        do {
            var count: LiteRtParamIndex = 0
            try api.check(api.getNumModelSignatures(model, &count), "GetNumModelSignatures")
            for i in 0..<Int(count) {
                var signature: LiteRtSignature?
                var key: UnsafePointer<CChar>?
                try api.check(api.getModelSignature(model, LiteRtParamIndex(i), &signature), "GetModelSignature")
                try api.check(api.getSignatureKey(signature, &key), "GetSignatureKey")
                if let key, let bucket = Bucket(signature: String(cString: key)) { index[bucket] = i }
            }
        } catch {
            LiteRtBackend.release(api, environment, model, options, compiled)
            throw error
        }
        guard !index.isEmpty else {
            LiteRtBackend.release(api, environment, model, options, compiled)
            throw EmbedliteError.invalidArtifact("\(url.path) has no b{batch}_s{seq} signatures")
        }
        signatureIndex = index
        buckets = index.keys.sorted { ($0.seq, $0.batch) < ($1.seq, $1.batch) }
    }

    /// The first accelerator in `order` that starts, and why each one before it did not.
    public static func firstAvailable(
        model url: URL, order: [Accelerator] = [.gpu, .cpu], library: LiteRtLibrary? = nil
    ) throws -> (backend: LiteRtBackend, skipped: [String]) {
        var skipped: [String] = []
        for accelerator in order {
            do {
                return (try LiteRtBackend(model: url, accelerator: accelerator, library: library), skipped)
            } catch EmbedliteError.runtime(let why) {
                skipped.append(why)
            }
        }
        throw EmbedliteError.runtime("no LiteRT accelerator could start: \(skipped.joined(separator: "; "))")
    }

    deinit {
        for runner in runners.values { runner.release(api) }
        LiteRtBackend.release(api, environment, model, options, compiled)
    }

    public func run(_ batch: PaddedBatch) throws -> [[Float]] {
        let runner = try self.runner(batch.bucket)
        try runner.write(batch.inputIds, to: 0, api)
        try runner.write(batch.attentionMask, to: 1, api)
        var inputs: [LiteRtTensorBuffer?] = runner.inputs
        var outputs: [LiteRtTensorBuffer?] = runner.outputs
        try api.check(api.runCompiledModel(compiled, LiteRtParamIndex(runner.signature), inputs.count, &inputs,
                                           outputs.count, &outputs), "RunCompiledModel (\(batch.bucket))")
        let flat = try runner.read(api)
        let width = flat.count / batch.bucket.batch
        return (0..<batch.bucket.batch).map { Array(flat[($0 * width)..<(($0 + 1) * width)]) }
    }

    /// Tensor buffers of one signature, made on its first use and reused.
    private func runner(_ bucket: Bucket) throws -> Runner {
        if let runner = runners[bucket] { return runner }
        guard let signature = signatureIndex[bucket] else {
            throw EmbedliteError.invalidInput("the model has no signature \(bucket.signature)")
        }
        let runner = try Runner(api: api, environment: environment, model: model, compiled: compiled,
                                signature: signature, bucket: bucket)
        runners[bucket] = runner
        return runner
    }

    private static func bits(_ accelerator: Accelerator) -> LiteRtHwAcceleratorSet {
        switch accelerator {
        case .cpu: return EMBEDLITE_LITERT_HW_CPU
        case .gpu: return EMBEDLITE_LITERT_HW_GPU
        case .npu: return EMBEDLITE_LITERT_HW_NPU
        }
    }

    private static func unavailable(_ accelerator: Accelerator, status: LiteRtStatus) -> String {
        let what = LiteRtLibrary.statusName(status)
        switch accelerator {
        case .cpu:
            return "LiteRT could not compile the model for the CPU: \(what)"
        case .gpu:
            return "LiteRT could not start its GPU accelerator (\(what)): it needs Metal and LiteRT's Metal "
                + "accelerator library on iOS, or a Vulkan/WebGPU adapter elsewhere; use .cpu"
        case .npu:
            return "LiteRT found no NPU (\(what)): it needs a vendor dispatch library that loads on this device "
                + "and a model its compiler accepts (iPhones have none; Core ML reaches the Neural Engine); use .cpu"
        }
    }

    private static func release(_ api: LiteRtLibrary, _ environment: LiteRtEnvironment, _ model: LiteRtModel,
                                _ options: LiteRtOptions, _ compiled: LiteRtCompiledModel) {
        api.destroyCompiledModel(compiled)
        api.destroyOptions(options)
        api.destroyModel(model)
        api.destroyEnvironment(environment)
    }
}

/// The input and output tensor buffers of one signature: [batch, seq] int32 inputs (input_ids first, by name,
/// as the exporter names them args_0, args_1) and one [batch, dim] float32 output.
private final class Runner {
    let signature: Int
    let inputs: [LiteRtTensorBuffer]
    let outputs: [LiteRtTensorBuffer]

    init(api: LiteRtLibrary, environment: LiteRtEnvironment, model: LiteRtModel, compiled: LiteRtCompiledModel,
         signature: Int, bucket: Bucket) throws {
        self.signature = signature
        var handle: LiteRtSignature?
        try api.check(api.getModelSignature(model, LiteRtParamIndex(signature), &handle), "GetModelSignature")
        var inputCount: LiteRtParamIndex = 0, outputCount: LiteRtParamIndex = 0
        try api.check(api.getNumSignatureInputs(handle, &inputCount), "GetNumSignatureInputs")
        try api.check(api.getNumSignatureOutputs(handle, &outputCount), "GetNumSignatureOutputs")
        guard inputCount == 2, outputCount == 1 else {
            throw EmbedliteError.invalidArtifact(
                "signature \(bucket) has \(inputCount) inputs and \(outputCount) outputs; expected input_ids, "
                    + "attention_mask -> one embedding")
        }
        var names: [String] = []
        for i in 0..<2 {
            var name: UnsafePointer<CChar>?
            try api.check(api.getSignatureInputName(handle, LiteRtParamIndex(i), &name), "GetSignatureInputName")
            names.append(name.map { String(cString: $0) } ?? "")
        }
        // the exporter names them args_0 (input_ids) and args_1 (attention_mask); the Python runtime sorts them too
        let idsFirst = names.contains("input_ids") ? names[0] == "input_ids" : names[0] <= names[1]
        let order = idsFirst ? [0, 1] : [1, 0]
        var made: [LiteRtTensorBuffer] = []
        do {
            for i in order {
                made.append(try Runner.buffer(api, environment, compiled, handle, signature, index: i, input: true,
                                              element: EMBEDLITE_LITERT_INT32, bytes: 4 * bucket.batch * bucket.seq,
                                              bucket: bucket))
            }
            inputs = made
            let output = try Runner.buffer(api, environment, compiled, handle, signature, index: 0, input: false,
                                           element: EMBEDLITE_LITERT_FLOAT32, bytes: nil, bucket: bucket)
            outputs = [output]
        } catch {
            for buffer in made { api.destroyBuffer(buffer) }
            throw error
        }
    }

    func release(_ api: LiteRtLibrary) {
        for buffer in inputs + outputs { api.destroyBuffer(buffer) }
    }

    func write(_ values: [Int32], to input: Int, _ api: LiteRtLibrary) throws {
        var memory: UnsafeMutableRawPointer?
        try api.check(api.lockBuffer(inputs[input], &memory, EMBEDLITE_LITERT_LOCK_WRITE), "LockTensorBuffer")
        defer { _ = api.unlockBuffer(inputs[input]) }
        values.withUnsafeBytes { memory!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    func read(_ api: LiteRtLibrary) throws -> [Float] {
        var size = 0
        try api.check(api.packedSize(outputs[0], &size), "GetTensorBufferPackedSize")
        var memory: UnsafeMutableRawPointer?
        try api.check(api.lockBuffer(outputs[0], &memory, EMBEDLITE_LITERT_LOCK_READ), "LockTensorBuffer")
        defer { _ = api.unlockBuffer(outputs[0]) }
        let floats = memory!.bindMemory(to: Float.self, capacity: size / 4)
        return Array(UnsafeBufferPointer(start: floats, count: size / 4))
    }

    /// A managed buffer for one tensor, after checking its element type and shape against the bucket.
    private static func buffer(_ api: LiteRtLibrary, _ environment: LiteRtEnvironment, _ compiled: LiteRtCompiledModel,
                               _ signature: LiteRtSignature?, _ signatureIndex: Int, index: Int, input: Bool,
                               element: LiteRtElementType, bytes: Int?, bucket: Bucket) throws -> LiteRtTensorBuffer {
        var tensor: LiteRtTensor?
        var type = LiteRtRankedTensorType()
        let lookup = input ? api.getSignatureInputTensor : api.getSignatureOutputTensor
        try api.check(lookup(signature, LiteRtParamIndex(index), &tensor), "GetSignatureTensorByIndex")
        try api.check(api.getRankedTensorType(tensor, &type), "GetRankedTensorType")
        let dims = withUnsafeBytes(of: type.layout.dimensions) {
            Array($0.bindMemory(to: Int32.self).prefix(Int(type.layout.rank)))
        }
        let what = input ? "input \(index)" : "output"
        guard type.element_type == element, dims.count == 2, dims[0] == bucket.batch,
              bytes == nil || dims[1] == bucket.seq else {
            let expected = element == EMBEDLITE_LITERT_INT32
                ? "int32 [\(bucket.batch), \(bucket.seq)]" : "float32 [\(bucket.batch), dim]"
            throw EmbedliteError.invalidArtifact("signature \(bucket) \(what) has element type "
                + "\(type.element_type) and shape \(dims); expected \(expected)")
        }
        var requirements: LiteRtTensorBufferRequirements?
        let status = input
            ? api.inputRequirements(compiled, LiteRtParamIndex(signatureIndex), LiteRtParamIndex(index), &requirements)
            : api.outputRequirements(compiled, LiteRtParamIndex(signatureIndex), LiteRtParamIndex(index), &requirements)
        try api.check(status, "GetCompiledModelBufferRequirements")
        var buffer: LiteRtTensorBuffer?
        try api.check(api.createBuffer(environment, &type, requirements, &buffer), "CreateManagedTensorBuffer")
        guard let buffer else { throw EmbedliteError.runtime("LiteRT returned no tensor buffer for \(bucket) \(what)") }
        var size = 0
        try api.check(api.packedSize(buffer, &size), "GetTensorBufferPackedSize")
        let expectedBytes = bytes ?? 4 * Int(dims[0]) * Int(dims[1])
        guard size == expectedBytes else {
            api.destroyBuffer(buffer)
            throw EmbedliteError.runtime(
                "LiteRT made a \(size)-byte buffer for \(bucket) \(what); expected \(expectedBytes)")
        }
        return buffer
    }
}
