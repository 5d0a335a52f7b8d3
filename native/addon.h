// Shared declarations of the native part (see addon.cc for the overview).
#ifndef OOMGUARD_NATIVE_ADDON_H_
#define OOMGUARD_NATIVE_ADDON_H_

#include <node_api.h>
#include <uv.h>
#include <v8.h>

namespace oomguard {

// The environment (the main thread's) that installed something, and its isolate. One per
// process: the guard guards from the main thread only.
struct Owner {
  napi_env env = nullptr;
  v8::Isolate* isolate = nullptr;
};
extern Owner owner;

// Claims the process-wide state for `env`; returns why not, or nullptr.
const char* Claim(napi_env env);
// Keeps the owner's environment cleanup hook the last one registered (so it runs first, before
// Node closes the thread-safe functions created since).
void KeepCleanupLast(napi_env env);

napi_value Throw(napi_env env, const char* message);
napi_value Num(napi_env env, double v);
bool GetSize(napi_env env, napi_value v, size_t* out);

// near_limit.cc
napi_value InstallNearHeapLimit(napi_env env, napi_callback_info info);
napi_value UninstallNearHeapLimit(napi_env env, napi_callback_info info);
napi_value SetMemoryLimit(napi_env env, napi_callback_info info);
napi_value ResetAsyncStack(napi_env env, napi_callback_info info);
void NearLimitState(napi_env env, napi_value out);
void RemoveNearHeapLimit();

// major_gc.cc
napi_value InstallMajorGc(napi_env env, napi_callback_info info);
napi_value UninstallMajorGc(napi_env env, napi_callback_info info);
void MajorGcState(napi_env env, napi_value out);
void RemoveMajorGc();

}  // namespace oomguard

#endif  // OOMGUARD_NATIVE_ADDON_H_
