// Pure Kotlin: no Android imports, so the same code is tested on the JVM (run_tests.sh, or `gradle :core:coreTests`).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

tasks.register<JavaExec>("coreTests") {
    description = "Runs the core tests against the bundle in ../build/bundle (embedlite export --target android)."
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("dev.embedlite.core.CoreTestsKt")
    args(rootProject.file("build/bundle").path)
}
