# Two addons, built from source by node-gyp at `npm ci` (no download, no library dependency):
# - sealtrain_native: AES-256-GCM chunk cipher for sealed-file bodies (src/seal/internal/native-gcm.ts).
#   Links no libcrypto: OpenSSL symbols resolve from the node binary that loads the addon.
# - sealtrain_train: the training engine's kernels (src/train/internal/native-kernels.ts, docs/engine.md).
#   AVX2/FMA code is compiled per function and chosen at run time, so one build runs on any x86-64.
{
  "targets": [
    {
      "target_name": "sealtrain_native",
      "sources": ["native/seal/addon.c", "native/seal/chunk_gcm.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O0", "-O2"],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CFLAGS": ["-std=c11", "-fvisibility=hidden"]
      }
    },
    {
      "target_name": "sealtrain_train",
      "sources": ["native/train/addon.cc", "native/train/gemm.cc", "native/train/ops.cc", "native/train/pool.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-O3", "-std=c++17", "-fvisibility=hidden", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter", "-pthread"],
      "cflags_cc!": ["-O0", "-O2", "-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags!": ["-O0", "-O2"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-fvisibility=hidden", "-ffp-contract=off"]
      }
    }
  ]
}
