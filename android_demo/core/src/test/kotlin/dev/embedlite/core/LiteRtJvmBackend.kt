package dev.embedlite.core

import com.sun.jna.Library
import com.sun.jna.Memory
import com.sun.jna.Native
import com.sun.jna.Pointer
import com.sun.jna.ptr.LongByReference
import com.sun.jna.ptr.PointerByReference
import java.io.File

/**
 * Test only: runs an artifact's model.tflite on the JVM through LiteRT's C API (the libLiteRt.so that the
 * ai-edge-litert wheel ships; its CompiledModel on the CPU, XNNPACK, as the Python runtime's interpreter), called
 * through JNA. With it the core's whole path (tokenise, pick the bucket, run, truncate, store, search) runs here.
 */
class LiteRtJvmBackend(library: File, modelFile: File) : InferenceBackend {
    @Suppress("FunctionName")
    private interface LiteRt : Library {
        fun LiteRtCreateEnvironment(numOptions: Int, options: Pointer?, environment: PointerByReference): Int
        fun LiteRtDestroyEnvironment(environment: Pointer)
        fun LiteRtCreateModelFromFile(environment: Pointer, filename: String, model: PointerByReference): Int
        fun LiteRtDestroyModel(model: Pointer)
        fun LiteRtGetNumModelSignatures(model: Pointer, count: LongByReference): Int
        fun LiteRtGetModelSignature(model: Pointer, index: Long, signature: PointerByReference): Int
        fun LiteRtGetSignatureKey(signature: Pointer, key: PointerByReference): Int
        fun LiteRtGetNumSignatureInputs(signature: Pointer, count: LongByReference): Int
        fun LiteRtGetSignatureInputName(signature: Pointer, index: Long, name: PointerByReference): Int
        fun LiteRtGetSignatureInputTensorByIndex(signature: Pointer, index: Long, tensor: PointerByReference): Int
        fun LiteRtGetSignatureOutputTensorByIndex(signature: Pointer, index: Long, tensor: PointerByReference): Int
        fun LiteRtGetRankedTensorType(tensor: Pointer, type: Pointer): Int
        fun LiteRtCreateOptions(options: PointerByReference): Int
        fun LiteRtSetOptionsHardwareAccelerators(options: Pointer, accelerators: Int): Int
        fun LiteRtDestroyOptions(options: Pointer)
        fun LiteRtCreateCompiledModel(environment: Pointer, model: Pointer, options: Pointer, compiled: PointerByReference): Int
        fun LiteRtDestroyCompiledModel(compiled: Pointer)
        fun LiteRtGetCompiledModelInputBufferRequirements(compiled: Pointer, signature: Long, input: Long,
                                                          requirements: PointerByReference): Int
        fun LiteRtGetCompiledModelOutputBufferRequirements(compiled: Pointer, signature: Long, output: Long,
                                                           requirements: PointerByReference): Int
        fun LiteRtCreateManagedTensorBufferFromRequirements(environment: Pointer, type: Pointer, requirements: Pointer,
                                                            buffer: PointerByReference): Int
        fun LiteRtLockTensorBuffer(buffer: Pointer, address: PointerByReference, mode: Int): Int
        fun LiteRtUnlockTensorBuffer(buffer: Pointer): Int
        fun LiteRtDestroyTensorBuffer(buffer: Pointer)
        fun LiteRtRunCompiledModel(compiled: Pointer, signature: Long, inputCount: Long, inputs: Array<Pointer>,
                                   outputCount: Long, outputs: Array<Pointer>): Int
    }

    /** One signature's index, and its tensor buffers (input_ids, attention_mask; the embedding), made on first use. */
    private class Signature(val index: Long, val handle: Pointer, val inputOrder: List<Int>) {
        var inputs: Array<Pointer>? = null
        var output: Pointer? = null
        var dim = 0
    }

    private val api: LiteRt = Native.load(library.absolutePath, LiteRt::class.java)
    private val environment = handle("creating the environment") { api.LiteRtCreateEnvironment(0, null, it) }
    private val model = handle("loading ${modelFile.path}") { api.LiteRtCreateModelFromFile(environment, modelFile.absolutePath, it) }
    private val compiled: Pointer
    private val signatures = HashMap<Bucket, Signature>()
    override val device = "LiteRT CPU via the C API (JVM test backend)"
    override val buckets: List<Bucket>

    init {
        val options = handle("creating options") { api.LiteRtCreateOptions(it) }
        check(api.LiteRtSetOptionsHardwareAccelerators(options, CPU), "choosing the CPU")
        compiled = handle("compiling the model") { api.LiteRtCreateCompiledModel(environment, model, options, it) }
        api.LiteRtDestroyOptions(options)
        val count = LongByReference().also { check(api.LiteRtGetNumModelSignatures(model, it), "counting signatures") }
        for (index in 0 until count.value) {
            val signature = handle("reading signature $index") { api.LiteRtGetModelSignature(model, index, it) }
            val key = handle("reading a signature key") { api.LiteRtGetSignatureKey(signature, it) }.getString(0)
            val bucket = Bucket.parse(key) ?: continue
            val inputs = LongByReference().also { check(api.LiteRtGetNumSignatureInputs(signature, it), "counting inputs") }
            val names = (0 until inputs.value).map { i ->
                handle("reading an input name") { api.LiteRtGetSignatureInputName(signature, i, it) }.getString(0)
            }
            // inputs sort as (input_ids, attention_mask): they are named args_0 and args_1, as the Python runtime reads them
            signatures[bucket] = Signature(index, signature, names.indices.sortedBy { names[it] })
        }
        buckets = signatures.keys.sortedWith(compareBy({ it.seq }, { it.batch }))
    }

    override fun run(bucket: Bucket, batch: PaddedBatch): Array<FloatArray> {
        val signature = signatures[bucket] ?: throw IllegalArgumentException("the model has no signature ${bucket.signature}")
        if (signature.inputs == null) prepare(signature)
        val inputs = signature.inputs!!
        write(inputs[signature.inputOrder[0]], batch.inputIds)
        write(inputs[signature.inputOrder[1]], batch.attentionMask)
        check(api.LiteRtRunCompiledModel(compiled, signature.index, inputs.size.toLong(), inputs, 1, arrayOf(signature.output!!)),
            "running ${bucket.signature}")
        val address = PointerByReference()
        check(api.LiteRtLockTensorBuffer(signature.output!!, address, READ), "reading the output")
        val dim = signature.dim
        val flat = address.value.getFloatArray(0, bucket.batch * dim)
        api.LiteRtUnlockTensorBuffer(signature.output!!)
        return Array(bucket.batch) { r -> flat.copyOfRange(r * dim, (r + 1) * dim) }
    }

    private fun prepare(signature: Signature) {
        signature.inputs = Array(signature.inputOrder.size) { i -> buffer(signature, i, input = true) }
        signature.output = buffer(signature, 0, input = false)
    }

    private fun buffer(signature: Signature, index: Int, input: Boolean): Pointer {
        val requirements = handle("buffer requirements") {
            if (input) api.LiteRtGetCompiledModelInputBufferRequirements(compiled, signature.index, index.toLong(), it)
            else api.LiteRtGetCompiledModelOutputBufferRequirements(compiled, signature.index, index.toLong(), it)
        }
        val tensor = handle("reading a tensor") {
            if (input) api.LiteRtGetSignatureInputTensorByIndex(signature.handle, index.toLong(), it)
            else api.LiteRtGetSignatureOutputTensorByIndex(signature.handle, index.toLong(), it)
        }
        val type = Memory(TENSOR_TYPE_BYTES).also { check(api.LiteRtGetRankedTensorType(tensor, it), "reading a tensor type") }
        if (!input) signature.dim = type.getInt(DIMENSIONS_OFFSET + 4)  // the output is (batch, dim)
        return handle("creating a tensor buffer") {
            api.LiteRtCreateManagedTensorBufferFromRequirements(environment, type, requirements, it)
        }
    }

    private fun write(buffer: Pointer, rows: Array<IntArray>) {
        val address = PointerByReference()
        check(api.LiteRtLockTensorBuffer(buffer, address, WRITE), "writing an input")
        rows.forEachIndexed { r, row -> address.value.write(r.toLong() * row.size * 4, row, 0, row.size) }
        api.LiteRtUnlockTensorBuffer(buffer)
    }

    override fun close() {
        for (signature in signatures.values) {
            signature.inputs?.forEach { api.LiteRtDestroyTensorBuffer(it) }
            signature.output?.let { api.LiteRtDestroyTensorBuffer(it) }
        }
        api.LiteRtDestroyCompiledModel(compiled)
        api.LiteRtDestroyModel(model)
        api.LiteRtDestroyEnvironment(environment)
    }

    private fun check(status: Int, what: String) {
        if (status != 0) throw IllegalStateException("LiteRT failed $what: status $status")
    }

    private fun handle(what: String, call: (PointerByReference) -> Int): Pointer {
        val out = PointerByReference()
        check(call(out), what)
        return out.value ?: throw IllegalStateException("LiteRT returned no handle $what")
    }

    private companion object {
        const val CPU = 1  // kLiteRtHwAcceleratorCpu
        const val READ = 0  // kLiteRtTensorBufferLockModeRead
        const val WRITE = 1  // kLiteRtTensorBufferLockModeWrite
        const val TENSOR_TYPE_BYTES = 256L  // LiteRtRankedTensorType: element type, rank bits, dims[8], strides[8]
        const val DIMENSIONS_OFFSET = 8L  // after the int32 element type and the rank/has_strides bit fields
    }
}
