# The optional native part (native/). One binary serves every supported Node major:
# Node-API (NAPI_VERSION 8) plus a few V8 and libuv symbols that each of those node binaries
# exports (docs/native.md). No C++ runtime is used (no exceptions, RTTI, new or std::), so the
# binary needs only libc. On Linux it is linked with -z now: a node binary that lacks one of the
# symbols refuses to load it, and the guard runs in its JavaScript mode, instead of failing on the
# first call. Build: `npm run build:native` (prebuilt) or scripts/install-native.js (from source).
{
  "targets": [
    {
      "target_name": "oomguard",
      "sources": ["native/addon.cc", "native/near_limit.cc", "native/major_gc.cc"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-fno-exceptions", "-fno-rtti", "-fvisibility=hidden", "-O2"],
      "conditions": [
        ["OS=='linux'", { "ldflags": ["-Wl,-z,now", "-Wl,--as-needed"] }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
            "GCC_ENABLE_CPP_RTTI": "NO",
            "OTHER_LDFLAGS": ["-undefined", "dynamic_lookup"]
          }
        }]
      ]
    }
  ]
}
