"""The export precisions, in a module of their own so that the formats and the quantizers both read them."""

# Each precision is named by what it buys; the README's "Export: formats and precisions" table says how.
PRECISIONS = {
    "fp32": "the reference",
    "fp16": "half the size (fp16 weights)",
    "int8": "speed on CPU: integer matrix products, activations quantized per token (batch-independent)",
    "int8-accurate": "a quarter of the size at near-fp32 accuracy: int8 weights, float compute",
    "int4": "the smallest file: 4-bit weight blocks, float compute",
}
