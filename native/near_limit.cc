// Near the heap limit: raise it once, stop the running JavaScript, hand over to the shutdown.
//
//   GC (near-heap-limit callback)  raise the limit by the reserve (never past what the memory
//                                  limit leaves), request an interrupt, queue a loop wake-up.
//   interrupt (stack-guard check)  TerminateExecution(): the runaway JavaScript unwinds, and a
//                                  completion callback is registered for the moment it is gone.
//   JavaScript has left V8         (the outermost call returned, or a microtask checkpoint
//                                  ended) cancel the termination and call the JS handler:
//                                  Node's own C++ has not yet looked at the terminated call.
//   or: the loop wake-up           when no JavaScript was running at the GC, call it there.
//
// Calling the handler at the completion callback, before Node's C++ caller sees an empty
// result, matters: Node keeps async-context bookkeeping in JavaScript (timers, immediates,
// nextTick), and a terminated callback leaves it unbalanced; the JS handler resets it
// (resetAsyncStack) the way Node does after a handled uncaught exception, so the event loop
// goes on and asynchronous hook work can finish.
//
// Reached again (the reserve spent too), or with no room to raise under the memory limit: V8
// would abort; the process exits with the guard's exit code instead. And once fired, whatever
// ends the process, it ends with that code (an atexit handler).

#include <cstdio>
#include <cstdlib>

#include "addon.h"

namespace oomguard {

namespace {

enum class Phase {
  kIdle,          // not installed
  kArmed,         // installed, not fired
  kFired,         // fired in a GC: limit raised, interrupt requested, loop woken
  kShuttingDown,  // the JS handler has been called
};

struct NearLimit {
  Phase phase = Phase::kIdle;
  bool fired = false;  // survives removal: the exit code is ours from then on
  bool completion_hooks = false;
  bool terminated = false;  // the interrupt terminated running JavaScript
  bool atexit_registered = false;
  size_t reserve = 0;
  size_t memory_limit = 0;  // 0: none known
  int exit_code = 2;
  size_t at_limit = 0;
  size_t initial_limit = 0;
  size_t raised_by = 0;
  size_t rss = 0;
  uint64_t fired_ns = 0;
  napi_threadsafe_function wake = nullptr;
  napi_ref handler = nullptr;
};

NearLimit s;

void Die(const char* why, size_t limit) {
  // Inside a GC: JavaScript cannot run. One line, then the guard's exit code. _Exit, not exit():
  // atexit handlers would tear Node down under a running GC.
  std::fprintf(stderr, "oomguard: %s (heap limit %.1f MiB); exiting now with code %d\n", why, limit / 1048576.0,
               s.exit_code);
  std::fflush(stderr);
  std::_Exit(s.exit_code);
}

bool StartsWith(const char* s, const char* prefix) {
  while (*prefix != '\0') {
    if (*s++ != *prefix++) return false;
  }
  return true;
}

// What V8 counts against the old-generation limit: every space but the young ones, read-only
// and shared (the same split as src/heap.ts). Only counters are read: safe inside the GC.
size_t OldGenerationUsed(v8::Isolate* isolate) {
  size_t used = 0;
  v8::HeapSpaceStatistics space;
  const size_t n = isolate->NumberOfHeapSpaces();
  for (size_t i = 0; i < n; i++) {
    if (!isolate->GetHeapSpaceStatistics(&space, i) || space.space_name() == nullptr) continue;
    const char* name = space.space_name();
    if (StartsWith(name, "new_") || StartsWith(name, "read_only") || StartsWith(name, "shared_")) continue;
    used += space.space_used_size();
  }
  return used;
}

void OnExit() {
  if (!s.fired) return;
  if (s.phase == Phase::kFired) {
    std::fprintf(stderr, "oomguard: the process ended before the shutdown could run; exit code %d\n", s.exit_code);
    std::fflush(stderr);
  }
  std::_Exit(s.exit_code);
}

void RemoveCompletionHooks();

void Deliver(napi_env env) {
  s.phase = Phase::kShuttingDown;
  RemoveCompletionHooks();
  // No JavaScript frame of the runaway is left; a termination still pending would stop the
  // handler itself.
  if (s.terminated) owner.isolate->CancelTerminateExecution();
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value handler;
  napi_value info;
  napi_value undefined;
  napi_value terminated;
  if (s.handler != nullptr && napi_get_reference_value(env, s.handler, &handler) == napi_ok && handler != nullptr) {
    napi_create_object(env, &info);
    napi_set_named_property(env, info, "heapLimit", Num(env, static_cast<double>(s.at_limit)));
    napi_set_named_property(env, info, "initialHeapLimit", Num(env, static_cast<double>(s.initial_limit)));
    napi_set_named_property(env, info, "raisedBy", Num(env, static_cast<double>(s.raised_by)));
    napi_set_named_property(env, info, "rss", Num(env, static_cast<double>(s.rss)));
    napi_set_named_property(env, info, "agoMs", Num(env, static_cast<double>(uv_hrtime() - s.fired_ns) / 1e6));
    napi_get_boolean(env, s.terminated, &terminated);
    napi_set_named_property(env, info, "terminated", terminated);
    napi_get_undefined(env, &undefined);
    if (napi_call_function(env, undefined, handler, 1, &info, nullptr) != napi_ok) {
      // The JS handler catches what its hooks throw; an exception here is its own bug, and
      // must not be left pending for whatever JavaScript runs next.
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  napi_close_handle_scope(env, scope);
}

void OnCallCompleted(v8::Isolate*) {
  if (s.phase == Phase::kFired) Deliver(owner.env);
}

void OnMicrotasksCompleted(v8::Isolate*, void*) {
  if (s.phase == Phase::kFired) Deliver(owner.env);
}

void RemoveCompletionHooks() {
  if (!s.completion_hooks) return;
  owner.isolate->RemoveCallCompletedCallback(OnCallCompleted);
  owner.isolate->RemoveMicrotasksCompletedCallback(OnMicrotasksCompleted, nullptr);
  s.completion_hooks = false;
}

void OnInterrupt(v8::Isolate* isolate, void*) {
  // On the main thread at a stack-guard check, outside any GC. Once the handler has been called,
  // terminating would stop the shutdown itself: nothing to do then.
  if (s.phase != Phase::kFired) return;
  s.terminated = true;
  isolate->AddCallCompletedCallback(OnCallCompleted);
  isolate->AddMicrotasksCompletedCallback(OnMicrotasksCompleted, nullptr);
  s.completion_hooks = true;
  isolate->TerminateExecution();
}

size_t OnNearHeapLimit(void*, size_t current, size_t initial) {
  if (s.phase != Phase::kArmed) {
    Die("the V8 heap reached its limit again, past the reserve", current);
    return current;
  }
  s.phase = Phase::kFired;
  s.fired = true;
  // The limit is raised by the reserve above what the old generation already holds: V8 checks
  // the new limit once, in this same GC, and aborts if the heap is still over it (a large
  // object can take the heap past the limit before the GC that calls this).
  const size_t used = OldGenerationUsed(owner.isolate);
  size_t raise = s.reserve + (used > current ? used - current : 0);
  size_t rss = 0;
  if (uv_resident_set_memory(&rss) != 0) rss = 0;
  // The reserve counts against the container: never more than the memory limit leaves, or the
  // kernel's OOM killer would take the process instead.
  if (s.memory_limit > 0 && rss > 0) {
    const size_t room = s.memory_limit > rss ? s.memory_limit - rss : 0;
    if (raise > room) raise = room;
  }
  s.at_limit = current;
  s.initial_limit = initial;
  s.raised_by = raise;
  s.rss = rss;
  s.fired_ns = uv_hrtime();
  if (raise == 0) Die("the V8 heap reached its limit and the memory limit leaves no room for the reserve", current);
  owner.isolate->RequestInterrupt(OnInterrupt, nullptr);
  if (s.wake != nullptr) napi_call_threadsafe_function(s.wake, nullptr, napi_tsfn_nonblocking);
  return current + raise;
}

// On the event loop: JavaScript that was running has been dealt with, or none was running.
void OnWake(napi_env env, napi_value, void*, void*) {
  if (env != nullptr && s.phase == Phase::kFired) Deliver(env);
}

}  // namespace

// installNearHeapLimit(handler, reserveBytes, memoryLimitBytes, exitCode)
napi_value InstallNearHeapLimit(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_valuetype t;
  if (argc < 4 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    return Throw(env, "installNearHeapLimit(handler, reserveBytes, memoryLimitBytes, exitCode)");
  }
  size_t reserve;
  size_t limit;
  int32_t code;
  if (!GetSize(env, argv[1], &reserve) || reserve == 0) return Throw(env, "reserveBytes must be a positive number");
  if (!GetSize(env, argv[2], &limit)) return Throw(env, "memoryLimitBytes must be a number >= 0");
  if (napi_get_value_int32(env, argv[3], &code) != napi_ok || code < 1 || code > 125) {
    return Throw(env, "exitCode must be an integer from 1 to 125");
  }
  if (const char* why = Claim(env)) return Throw(env, why);
  if (s.phase != Phase::kIdle) return Throw(env, "the near-heap-limit callback is already installed");
  if (s.fired) return Throw(env, "the near-heap-limit callback has fired in this process");
  napi_value name;
  napi_create_string_utf8(env, "oomguard.nearHeapLimit", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, OnWake,
                                      &s.wake) != napi_ok) {
    s.wake = nullptr;
    return Throw(env, "could not create the thread-safe function");
  }
  napi_unref_threadsafe_function(env, s.wake);  // never keeps the process alive
  napi_create_reference(env, argv[0], 1, &s.handler);
  KeepCleanupLast(env);
  if (!s.atexit_registered) s.atexit_registered = std::atexit(OnExit) == 0;
  s.reserve = reserve;
  s.memory_limit = limit;
  s.exit_code = code;
  s.terminated = false;
  s.phase = Phase::kArmed;
  owner.isolate->AddNearHeapLimitCallback(OnNearHeapLimit, nullptr);
  return nullptr;
}

void RemoveNearHeapLimit() {
  if (s.phase == Phase::kIdle) return;
  RemoveCompletionHooks();
  // 0: leave the heap limit where it is (raised, when the callback fired).
  owner.isolate->RemoveNearHeapLimitCallback(OnNearHeapLimit, 0);
  s.phase = Phase::kIdle;
  s.wake = nullptr;  // released by the caller, or closed by Node's own cleanup hook
}

napi_value UninstallNearHeapLimit(napi_env env, napi_callback_info) {
  if (owner.env != env || s.phase == Phase::kIdle) return nullptr;
  napi_threadsafe_function wake = s.wake;
  RemoveNearHeapLimit();
  if (wake != nullptr) napi_release_threadsafe_function(wake, napi_tsfn_abort);
  if (s.handler != nullptr) napi_delete_reference(env, s.handler);
  s.handler = nullptr;
  return nullptr;
}

// setMemoryLimit(bytes): the container's limit, 0 when there is none.
napi_value SetMemoryLimit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  size_t limit;
  if (argc < 1 || !GetSize(env, argv[0], &limit)) return Throw(env, "setMemoryLimit(bytes >= 0)");
  s.memory_limit = limit;
  return nullptr;
}

// resetAsyncStack(error): Node's uncaught-exception path for `error`, which empties the async
// context stack a terminated callback left unbalanced. The caller makes sure `error` is handled
// (process.setUncaughtExceptionCaptureCallback), so nothing else happens.
napi_value ResetAsyncStack(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 1) return Throw(env, "resetAsyncStack(error)");
  napi_fatal_exception(env, argv[0]);
  return nullptr;
}

void NearLimitState(napi_env env, napi_value out) {
  static const char* const kPhases[] = {"idle", "armed", "fired", "shutting-down"};
  const bool mine = owner.env == env;
  napi_value phase;
  napi_create_string_utf8(env, mine ? kPhases[static_cast<int>(s.phase)] : "idle", NAPI_AUTO_LENGTH, &phase);
  napi_set_named_property(env, out, "nearHeapLimit", phase);
  napi_set_named_property(env, out, "reserve", Num(env, mine ? static_cast<double>(s.reserve) : 0));
  napi_set_named_property(env, out, "memoryLimit", Num(env, mine ? static_cast<double>(s.memory_limit) : 0));
}

}  // namespace oomguard
