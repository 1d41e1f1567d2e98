package dev.embedlite.demo

import android.content.Context
import android.os.Build
import android.util.Log
import dev.embedlite.core.Bucket
import dev.embedlite.core.InferenceBackend
import dev.embedlite.core.Manifest
import dev.embedlite.core.PaddedBatch
import dev.embedlite.core.Vectors
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate
import java.io.FileInputStream
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * The model.tflite of the bundled artifact on LiteRT. Accelerators are tried in order, GPU delegate, then the
 * NPU through NNAPI, each kept only if it builds, runs every signature shape and agrees with the CPU
 * (cosine >= 0.99 on a probe batch); otherwise the CPU (XNNPACK) runs it.
 */
class LiteRtBackend private constructor(
    private val interpreter: Interpreter,
    private val delegate: Delegate?,
    override val device: String,
    private val outputDim: Int,
) : InferenceBackend {
    override val buckets: List<Bucket> = interpreter.signatureKeys.mapNotNull(Bucket::parse)

    override fun run(bucket: Bucket, batch: PaddedBatch): Array<FloatArray> = run(interpreter, bucket, batch, outputDim)

    override fun close() {
        interpreter.close()
        (delegate as? AutoCloseable)?.close()
    }

    companion object {
        private const val TAG = "embedlite"
        private const val AGREEMENT = 0.99f

        fun create(context: Context, manifest: Manifest, assetDir: String): LiteRtBackend {
            val model = mapAsset(context, "$assetDir/model.tflite")
            val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, 4)
            val outputDim = manifest.outputDim ?: manifest.dim
            val cpu = Interpreter(model, Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true))
            val probe = probeBatch(cpu)
            val reference = run(cpu, probe.first, probe.second, outputDim)
            for ((name, makeDelegate) in accelerators()) {
                var delegate: Delegate? = null
                var accelerated: Interpreter? = null
                try {
                    delegate = makeDelegate() ?: continue
                    accelerated = Interpreter(model, Interpreter.Options().addDelegate(delegate))
                    val out = run(accelerated, probe.first, probe.second, outputDim)
                    val worst = out.indices.minOf { Vectors.dot(Vectors.normalize(out[it]), Vectors.normalize(reference[it])) }
                    if (worst >= AGREEMENT) {
                        cpu.close()
                        return LiteRtBackend(accelerated, delegate, "LiteRT $name", outputDim)
                    }
                    Log.w(TAG, "$name disagrees with the CPU (cosine $worst); not used")
                } catch (e: Throwable) {  // a delegate that cannot run this graph throws from native code
                    Log.w(TAG, "$name unavailable: ${e.message}")
                }
                accelerated?.close()
                (delegate as? AutoCloseable)?.close()
            }
            return LiteRtBackend(cpu, null, "LiteRT CPU (XNNPACK, $threads threads)", outputDim)
        }

        private fun accelerators(): List<Pair<String, () -> Delegate?>> = listOf(
            "GPU delegate" to {
                val compatibility = CompatibilityList()
                if (compatibility.isDelegateSupportedOnThisDevice) GpuDelegate(compatibility.bestOptionsForThisDevice)
                else null
            },
            "NPU (NNAPI)" to {
                if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
                    NnApiDelegate(NnApiDelegate.Options().setUseNnapiCpu(false).setAllowFp16(false))
                } else null
            },
        )

        private fun probeBatch(interpreter: Interpreter): Pair<Bucket, PaddedBatch> {
            val bucket = interpreter.signatureKeys.mapNotNull(Bucket::parse).minWith(compareBy({ it.seq }, { it.batch }))
            val rows = List(bucket.batch) { r -> IntArray(minOf(bucket.seq, 6 + r)) { 1000 + 37 * it + r } }
            return bucket to PaddedBatch.of(rows, padId = 0, width = bucket.seq, batch = bucket.batch)
        }

        /** Signature inputs sort as (input_ids, attention_mask): they are named args_0 and args_1. */
        private fun run(interpreter: Interpreter, bucket: Bucket, batch: PaddedBatch, dim: Int): Array<FloatArray> {
            val names = interpreter.getSignatureInputs(bucket.signature).sorted()
            val output = Array(batch.inputIds.size) { FloatArray(dim) }
            val outputName = interpreter.getSignatureOutputs(bucket.signature).single()
            interpreter.runSignature(
                mapOf(names[0] to batch.inputIds, names[1] to batch.attentionMask),
                mapOf(outputName to output),
                bucket.signature,
            )
            return output
        }

        private fun mapAsset(context: Context, path: String): MappedByteBuffer =
            context.assets.openFd(path).use { fd ->
                FileInputStream(fd.fileDescriptor).channel.use {
                    it.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }
    }
}
