// After every mark-compact: its pause and the heap spaces it left, delivered to JavaScript.
//
// The prologue and epilogue are registered for kGCTypeMarkSweepCompact only, so V8 never calls
// them for scavenges (the young-generation GCs that a busy app runs hundreds of times a second;
// a `gc` PerformanceObserver gets an entry for each). They run on the main thread inside the GC:
// they read counters into a ring buffer and queue at most one thread-safe-function call until
// JavaScript has taken the batch. JavaScript runs later, on the event loop.

#include "addon.h"

namespace oomguard {

namespace {

constexpr size_t kMaxSpaces = 16;
constexpr size_t kRing = 64;

struct GcRecord {
  uint64_t end_ns;
  uint64_t duration_ns;
  double used[kMaxSpaces];
  double available[kMaxSpaces];
};

struct MajorGc {
  bool installed = false;
  size_t spaces = 0;
  uint64_t start_ns = 0;
  GcRecord ring[kRing];
  uint64_t written = 0;    // records written by the epilogue
  uint64_t delivered = 0;  // records handed to JavaScript
  uint64_t missed = 0;     // overwritten before JavaScript could take them
  bool queued = false;
  napi_threadsafe_function deliver = nullptr;
};

MajorGc s;

void OnPrologue(v8::Isolate*, v8::GCType, v8::GCCallbackFlags, void*) {
  s.start_ns = uv_hrtime();
}

void OnEpilogue(v8::Isolate* isolate, v8::GCType, v8::GCCallbackFlags, void*) {
  const uint64_t end = uv_hrtime();
  GcRecord& r = s.ring[s.written % kRing];
  r.end_ns = end;
  r.duration_ns = s.start_ns != 0 && end >= s.start_ns ? end - s.start_ns : 0;
  s.start_ns = 0;
  v8::HeapSpaceStatistics space;
  for (size_t i = 0; i < s.spaces; i++) {
    const bool ok = isolate->GetHeapSpaceStatistics(&space, i);
    r.used[i] = ok ? static_cast<double>(space.space_used_size()) : 0;
    r.available[i] = ok ? static_cast<double>(space.space_available_size()) : 0;
  }
  s.written++;
  if (!s.queued && s.deliver != nullptr) {
    s.queued = true;
    napi_call_threadsafe_function(s.deliver, nullptr, napi_tsfn_nonblocking);
  }
}

// On the event loop: onMajorGc(agoMs, durationMs, usedBySpace, availableBySpace) per record.
void Deliver(napi_env env, napi_value cb, void*, void*) {
  s.queued = false;
  if (env == nullptr || cb == nullptr) return;
  const uint64_t upto = s.written;
  if (upto - s.delivered > kRing) {
    s.missed += upto - s.delivered - kRing;
    s.delivered = upto - kRing;
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  const uint64_t now = uv_hrtime();
  while (s.delivered < upto) {
    const GcRecord& r = s.ring[s.delivered % kRing];
    s.delivered++;
    napi_value used;
    napi_value available;
    napi_create_array_with_length(env, s.spaces, &used);
    napi_create_array_with_length(env, s.spaces, &available);
    for (size_t i = 0; i < s.spaces; i++) {
      napi_set_element(env, used, static_cast<uint32_t>(i), Num(env, r.used[i]));
      napi_set_element(env, available, static_cast<uint32_t>(i), Num(env, r.available[i]));
    }
    napi_value argv[4] = {Num(env, static_cast<double>(now - r.end_ns) / 1e6),
                          Num(env, static_cast<double>(r.duration_ns) / 1e6), used, available};
    // An exception in the listener is reported by Node-API as uncaught once this returns; the
    // records left go with the next batch.
    if (napi_call_function(env, undefined, cb, 4, argv, nullptr) != napi_ok) break;
  }
}

}  // namespace

// installMajorGc(onMajorGc) -> the space names, in the order of the arrays onMajorGc receives.
napi_value InstallMajorGc(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    return Throw(env, "installMajorGc(onMajorGc)");
  }
  if (const char* why = Claim(env)) return Throw(env, why);
  if (s.installed) return Throw(env, "the GC callbacks are already installed");
  size_t spaces = owner.isolate->NumberOfHeapSpaces();
  if (spaces > kMaxSpaces) spaces = kMaxSpaces;
  napi_value names;
  napi_create_array_with_length(env, spaces, &names);
  v8::HeapSpaceStatistics space;
  for (size_t i = 0; i < spaces; i++) {
    const char* name = owner.isolate->GetHeapSpaceStatistics(&space, i) && space.space_name() != nullptr
                           ? space.space_name()
                           : "";
    napi_value n;
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &n);
    napi_set_element(env, names, static_cast<uint32_t>(i), n);
  }
  napi_value name;
  napi_create_string_utf8(env, "oomguard.majorGc", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], nullptr, name, 0, 1, nullptr, nullptr, nullptr, Deliver,
                                      &s.deliver) != napi_ok) {
    s.deliver = nullptr;
    return Throw(env, "could not create the thread-safe function");
  }
  napi_unref_threadsafe_function(env, s.deliver);
  KeepCleanupLast(env);
  s.spaces = spaces;
  s.delivered = s.written;
  s.queued = false;
  s.start_ns = 0;
  owner.isolate->AddGCPrologueCallback(OnPrologue, nullptr, v8::kGCTypeMarkSweepCompact);
  owner.isolate->AddGCEpilogueCallback(OnEpilogue, nullptr, v8::kGCTypeMarkSweepCompact);
  s.installed = true;
  return names;
}

void RemoveMajorGc() {
  if (!s.installed) return;
  owner.isolate->RemoveGCPrologueCallback(OnPrologue, nullptr);
  owner.isolate->RemoveGCEpilogueCallback(OnEpilogue, nullptr);
  s.installed = false;
  s.deliver = nullptr;  // released by the caller, or closed by Node's own cleanup hook
}

napi_value UninstallMajorGc(napi_env env, napi_callback_info) {
  if (owner.env != env || !s.installed) return nullptr;
  napi_threadsafe_function deliver = s.deliver;
  RemoveMajorGc();
  if (deliver != nullptr) napi_release_threadsafe_function(deliver, napi_tsfn_abort);
  return nullptr;
}

void MajorGcState(napi_env env, napi_value out) {
  const bool mine = owner.env == env;
  napi_value installed;
  napi_get_boolean(env, mine && s.installed, &installed);
  napi_set_named_property(env, out, "majorGc", installed);
  napi_set_named_property(env, out, "majorGcs", Num(env, mine ? static_cast<double>(s.written) : 0));
  napi_set_named_property(env, out, "missed", Num(env, mine ? static_cast<double>(s.missed) : 0));
}

}  // namespace oomguard
