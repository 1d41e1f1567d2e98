// Pure Kotlin: no Android imports, so the same code is tested on the JVM (run_tests.sh, or `gradle :core:coreTests`).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    testImplementation(libs.jna)  // the tests run the models through LiteRT's C API
}

tasks.register<JavaExec>("coreTests") {
    description = "Runs the core tests against the bundles run_tests.sh makes in ../build; -Plitert=PATH/libLiteRt.so " +
        "(from the ai-edge-litert wheel) runs the models too."
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("dev.embedlite.core.CoreTestsKt")
    (findProperty("litert") as String?)?.let { systemProperty("embedlite.litert", it) }
    systemProperty("embedlite.tokenizerFixtures", rootProject.file("build/tokenizer-fixtures").path)
    args(rootProject.file("build/bundle").path, rootProject.file("build/bundle-gemma").path,
        rootProject.file("build/bundle-e5").path)
}
