package dev.embedlite.core

import java.io.File
import java.io.FileNotFoundException
import java.io.InputStream
import java.security.MessageDigest

/** An artifact that cannot be used: a missing, truncated or changed file, or a malformed manifest.json. */
class ArtifactException(message: String) : IllegalArgumentException(message)

/**
 * An embedlite artifact (manifest.json, the model file, tokenizer.json), checked as the Python runtime and the
 * Swift core check it: format version, fields, and each listed file's size and sha256.
 */
class Artifact(val manifest: Manifest, val tokenizer: Tokenizer) {
    companion object {
        /** Loads and checks the artifact in `directory`; `verify` recomputes every listed file's sha256. */
        fun load(directory: File, verify: Boolean = true): Artifact {
            if (!directory.isDirectory) throw ArtifactException("model artifact not found: ${directory.path} is not a directory")
            val root = directory.canonicalFile
            return load(directory.path, verify) { name ->
                val file = File(directory, name)
                // a manifest names files of its own directory: "../x", or a link leading out, is refused
                if (!file.canonicalFile.startsWith(root)) {
                    throw ArtifactException("${File(directory, "manifest.json").path} names '$name', which is outside the artifact directory")
                }
                file.inputStream()
            }
        }

        /**
         * Loads and checks an artifact whose files `open` reads by name (an Android app's assets:
         * `{ context.assets.open("embedlite/$it") }`); `where` names the folder in error messages.
         */
        fun load(where: String, verify: Boolean = true, open: (String) -> InputStream): Artifact {
            val manifestPath = "$where/manifest.json"
            val text = try {
                read(open, "manifest.json", where).toString(Charsets.UTF_8)
            } catch (_: FileNotFoundException) {
                throw ArtifactException("$manifestPath is missing: not an embedlite model artifact")
            }
            val manifest = try {
                Manifest.parse(text)
            } catch (e: ArtifactException) {
                throw e
            } catch (e: RuntimeException) {  // Json and Manifest say what is wrong; name the file too
                throw ArtifactException("$manifestPath: ${e.message}")
            }
            if (verify) verifyFiles(manifest, where, open)
            val tokenizer = Tokenizer.fromJson(read(open, "tokenizer.json", where).toString(Charsets.UTF_8),
                manifest.maxSeqLength)
            return Artifact(manifest, tokenizer)
        }

        /** Every file the manifest lists: present, of the recorded size, with the recorded sha256. */
        private fun verifyFiles(manifest: Manifest, where: String, open: (String) -> InputStream) {
            for ((name, entry) in manifest.files.toSortedMap()) {
                if (name.startsWith("/") || name.split('/', '\\').any { it == ".." }) {
                    throw ArtifactException("$where/manifest.json names '$name', which is outside the artifact directory")
                }
                val path = "$where/$name"
                val digest = MessageDigest.getInstance("SHA-256")
                var size = 0L
                try {
                    open(name).use { input ->
                        val buffer = ByteArray(1 shl 16)
                        while (true) {
                            val n = input.read(buffer)
                            if (n < 0) break
                            digest.update(buffer, 0, n)
                            size += n
                        }
                    }
                } catch (_: FileNotFoundException) {
                    throw ArtifactException("$path is missing from the model artifact")
                }
                if (entry.bytes != null && size != entry.bytes) {
                    throw ArtifactException("$path is $size bytes, the manifest says ${entry.bytes}: truncated or replaced")
                }
                val hex = digest.digest().joinToString("") { "%02x".format(it) }
                if (hex != entry.sha256.lowercase()) {
                    throw ArtifactException("$path fails its sha256 check: the file is corrupt or was changed")
                }
            }
        }

        private fun read(open: (String) -> InputStream, name: String, where: String): ByteArray = try {
            open(name).use { it.readBytes() }
        } catch (e: FileNotFoundException) {
            if (name == "manifest.json") throw e
            throw ArtifactException("$where/$name is missing from the model artifact")
        }
    }
}
