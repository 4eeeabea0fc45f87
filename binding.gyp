# Native AES-256-GCM chunk cipher for sealed-file bodies (API: src/seal/internal/native-gcm.ts).
# Links no libcrypto: OpenSSL symbols resolve from the node binary that loads the addon.
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
    }
  ]
}
