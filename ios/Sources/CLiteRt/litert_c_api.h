// The part of LiteRT's public C API (headers litert/c/litert_*.h of LiteRT 2.3.0, the version of the
// ai-edge-litert wheel the tests run against) that EmbedliteLiteRT calls, written out here so the package
// needs no LiteRT checkout to build.
//
// Functions are declared as pointer types, not as functions: the backend looks each one up with dlsym in a
// libLiteRt it has loaded (the wheel's libLiteRt.so on Linux; LiteRT's prebuilt libLiteRt.dylib, embedded as
// a framework, on iOS), so nothing links against LiteRT at build time. The types below must keep LiteRT's
// ABI: same enum values, same struct layout.
#ifndef EMBEDLITE_LITERT_C_API_H
#define EMBEDLITE_LITERT_C_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Opaque handles.
typedef struct LiteRtEnvironmentT *LiteRtEnvironment;
typedef struct LiteRtModelT *LiteRtModel;
typedef struct LiteRtSignatureT *LiteRtSignature;
typedef struct LiteRtTensorT *LiteRtTensor;
typedef struct LiteRtOptionsT *LiteRtOptions;
typedef struct LiteRtCompiledModelT *LiteRtCompiledModel;
typedef struct LiteRtTensorBufferT *LiteRtTensorBuffer;
typedef struct LiteRtTensorBufferRequirementsT *LiteRtTensorBufferRequirements;

typedef size_t LiteRtParamIndex;

// LiteRtStatus: 0 is success; the other codes are listed in LiteRtBackend.swift for error messages.
typedef int LiteRtStatus;

// LiteRtHwAcceleratorSet: a bit set.
typedef int LiteRtHwAcceleratorSet;
#define EMBEDLITE_LITERT_HW_CPU 1
#define EMBEDLITE_LITERT_HW_GPU 2
#define EMBEDLITE_LITERT_HW_NPU 4

// LiteRtElementType values (TfLiteType numbering).
typedef int LiteRtElementType;
#define EMBEDLITE_LITERT_FLOAT32 1
#define EMBEDLITE_LITERT_INT32 2

// LiteRtTensorBufferLockMode values.
typedef int LiteRtTensorBufferLockMode;
#define EMBEDLITE_LITERT_LOCK_READ 0
#define EMBEDLITE_LITERT_LOCK_WRITE 1

// LiteRtLayout (at most 8 dimensions) and LiteRtRankedTensorType.
typedef struct {
  unsigned int rank : 7;
  bool has_strides : 1;
  int32_t dimensions[8];
  uint32_t strides[8];
} LiteRtLayout;

typedef struct {
  LiteRtElementType element_type;
  LiteRtLayout layout;
} LiteRtRankedTensorType;

// Environment (litert_environment.h); the options argument is unused here (NULL).
typedef LiteRtStatus (*LiteRtCreateEnvironmentFn)(int num_options, const void *options,
                                                  LiteRtEnvironment *environment);
typedef void (*LiteRtDestroyEnvironmentFn)(LiteRtEnvironment environment);

// Model and signatures (litert_model.h).
typedef LiteRtStatus (*LiteRtCreateModelFromFileFn)(LiteRtEnvironment environment, const char *filename,
                                                    LiteRtModel *model);
typedef void (*LiteRtDestroyModelFn)(LiteRtModel model);
typedef LiteRtStatus (*LiteRtGetNumModelSignaturesFn)(LiteRtModel model, LiteRtParamIndex *num_signatures);
typedef LiteRtStatus (*LiteRtGetModelSignatureFn)(LiteRtModel model, LiteRtParamIndex signature_index,
                                                  LiteRtSignature *signature);
typedef LiteRtStatus (*LiteRtGetSignatureKeyFn)(LiteRtSignature signature, const char **signature_key);
typedef LiteRtStatus (*LiteRtGetSignatureCountFn)(LiteRtSignature signature, LiteRtParamIndex *count);
typedef LiteRtStatus (*LiteRtGetSignatureNameFn)(LiteRtSignature signature, LiteRtParamIndex index,
                                                 const char **name);
typedef LiteRtStatus (*LiteRtGetSignatureTensorByIndexFn)(LiteRtSignature signature, LiteRtParamIndex index,
                                                          LiteRtTensor *tensor);
typedef LiteRtStatus (*LiteRtGetRankedTensorTypeFn)(LiteRtTensor tensor, LiteRtRankedTensorType *type);

// Compilation options (litert_options.h).
typedef LiteRtStatus (*LiteRtCreateOptionsFn)(LiteRtOptions *options);
typedef void (*LiteRtDestroyOptionsFn)(LiteRtOptions options);
typedef LiteRtStatus (*LiteRtSetOptionsHardwareAcceleratorsFn)(LiteRtOptions options,
                                                               LiteRtHwAcceleratorSet accelerators);

// Compiled model (litert_compiled_model.h).
typedef LiteRtStatus (*LiteRtCreateCompiledModelFn)(LiteRtEnvironment environment, LiteRtModel model,
                                                    LiteRtOptions options, LiteRtCompiledModel *compiled_model);
typedef void (*LiteRtDestroyCompiledModelFn)(LiteRtCompiledModel compiled_model);
typedef LiteRtStatus (*LiteRtGetCompiledModelBufferRequirementsFn)(
    LiteRtCompiledModel compiled_model, LiteRtParamIndex signature_index, LiteRtParamIndex tensor_index,
    LiteRtTensorBufferRequirements *requirements);
typedef LiteRtStatus (*LiteRtRunCompiledModelFn)(LiteRtCompiledModel compiled_model,
                                                 LiteRtParamIndex signature_index, size_t num_inputs,
                                                 LiteRtTensorBuffer *inputs, size_t num_outputs,
                                                 LiteRtTensorBuffer *outputs);

// Tensor buffers (litert_tensor_buffer.h).
typedef LiteRtStatus (*LiteRtCreateManagedTensorBufferFromRequirementsFn)(
    LiteRtEnvironment environment, const LiteRtRankedTensorType *type,
    LiteRtTensorBufferRequirements requirements, LiteRtTensorBuffer *buffer);
typedef void (*LiteRtDestroyTensorBufferFn)(LiteRtTensorBuffer buffer);
typedef LiteRtStatus (*LiteRtGetTensorBufferPackedSizeFn)(LiteRtTensorBuffer buffer, size_t *size);
typedef LiteRtStatus (*LiteRtLockTensorBufferFn)(LiteRtTensorBuffer buffer, void **host_memory,
                                                 LiteRtTensorBufferLockMode mode);
typedef LiteRtStatus (*LiteRtUnlockTensorBufferFn)(LiteRtTensorBuffer buffer);

#endif  // EMBEDLITE_LITERT_C_API_H
