// oomguard's optional native part: hear V8 itself.
//
// Two things no JavaScript guard can do, because no JavaScript runs at those moments:
//
//  1. Near the heap limit (near_limit.cc). V8 calls a near-heap-limit callback inside the GC
//     that is about to fail. It raises the limit once by a reserve, stops the running
//     JavaScript (an interrupt that terminates it) and hands over to the guard's shutdown path,
//     which then runs with the reserve as headroom.
//  2. After every mark-compact (major_gc.cc). A GC prologue/epilogue pair filtered to
//     kGCTypeMarkSweepCompact (scavenges cost nothing) records the pause and the heap spaces
//     right after the collection, and queues one call to JavaScript per batch.
//
// No JavaScript ever runs inside a GC or an interrupt (V8: "Registered |callback| must not
// reenter interrupted Isolate"; node.h: "The passed callback can not call back into
// JavaScript"). Those callbacks only write C++ state, request an interrupt, register a
// completion callback or queue a Node-API thread-safe-function call.
//
// ABI: Node-API (NAPI_VERSION 8) for everything JavaScript sees, plus V8 Isolate members and two
// libuv functions, each exported by the node binary under the same mangled name on Node 22, 24
// and 26 (docs/native.md lists them and how that was checked). The only V8 layouts compiled in
// are HeapSpaceStatistics (a name pointer and four size_t) and the GCType value
// kGCTypeMarkSweepCompact (1 << 2), identical in the headers of all three majors. Linked with
// -z now: a node binary that lacks one of the symbols refuses to load the addon (the guard then
// runs in its JavaScript mode) instead of failing at the first call.

#include "addon.h"

namespace oomguard {

Owner owner;

namespace {

bool cleanup_registered = false;

// The environment is going away. Removes every V8 callback before Node closes the thread-safe
// functions they would call.
void Cleanup(void*) {
  RemoveNearHeapLimit();
  RemoveMajorGc();
  cleanup_registered = false;
}

napi_value State(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_object(env, &out);
  NearLimitState(env, out);
  MajorGcState(env, out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_attributes attrs = static_cast<napi_property_attributes>(napi_enumerable);
  const napi_property_descriptor props[] = {
      {"installNearHeapLimit", nullptr, InstallNearHeapLimit, nullptr, nullptr, nullptr, attrs, nullptr},
      {"uninstallNearHeapLimit", nullptr, UninstallNearHeapLimit, nullptr, nullptr, nullptr, attrs, nullptr},
      {"setMemoryLimit", nullptr, SetMemoryLimit, nullptr, nullptr, nullptr, attrs, nullptr},
      {"resetAsyncStack", nullptr, ResetAsyncStack, nullptr, nullptr, nullptr, attrs, nullptr},
      {"installMajorGc", nullptr, InstallMajorGc, nullptr, nullptr, nullptr, attrs, nullptr},
      {"uninstallMajorGc", nullptr, UninstallMajorGc, nullptr, nullptr, nullptr, attrs, nullptr},
      {"state", nullptr, State, nullptr, nullptr, nullptr, attrs, nullptr},
      {"abi", nullptr, nullptr, nullptr, nullptr, Num(env, 1), attrs, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

const char* Claim(napi_env env) {
  if (owner.env != nullptr && owner.env != env) return "already installed by another thread's environment";
  if (owner.env == nullptr) {
    v8::Isolate* isolate = v8::Isolate::GetCurrent();
    if (isolate == nullptr) return "no current V8 isolate";
    owner.env = env;
    owner.isolate = isolate;
  }
  KeepCleanupLast(env);
  return nullptr;
}

void KeepCleanupLast(napi_env env) {
  if (cleanup_registered) napi_remove_env_cleanup_hook(env, Cleanup, nullptr);
  cleanup_registered = napi_add_env_cleanup_hook(env, Cleanup, nullptr) == napi_ok;
}

napi_value Throw(napi_env env, const char* message) {
  napi_throw_error(env, "OOMGUARD_NATIVE", message);
  return nullptr;
}

napi_value Num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

bool GetSize(napi_env env, napi_value v, size_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0) return false;
  *out = static_cast<size_t>(d);
  return true;
}

}  // namespace oomguard

NAPI_MODULE_INIT() {
  return oomguard::Init(env, exports);
}
