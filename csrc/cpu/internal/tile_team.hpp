// tile_team.hpp: a team of helper threads that never makes the caller wait for a helper that has not started.
// Every CPU kernel's parallel work goes through the one team (GEMM tiles, parallel_for's chunks and
// parallel_dynamic's members through run_on_team in fastann/common.hpp, the RNN's stages), so a training step
// never has two thread pools polling for the same cores.
//
// An OpenMP parallel region ends in a barrier: the calling thread returns only once every thread of the team
// has arrived, so a helper whose core another process holds (a shared machine) makes the call wait for it a
// whole scheduler slice, even when the caller has done all the work meanwhile. TileTeam::run hands out items
// from an atomic counter to the caller and to the helpers that show up; when the items run out the caller
// closes the job and waits only for the helpers that joined it (each of which is running an item it took),
// never for one that has not started. A helper that wakes after that finds no job and goes back to waiting.
//
// Helpers wait briefly after a job (the next one usually follows within microseconds), polling and then
// yielding the core, then sleep on a condition variable. One job at a time: a caller that finds the team busy
// (another Python thread) or that is itself running a team item (a kernel called from inside parallel work)
// runs its items alone. The team is never destroyed (its threads may be waiting on it when the process
// exits); a forked child gets a fresh one. Internal to csrc/cpu; no ISA-specific code.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FASTANN_CPU_RELAX() _mm_pause()
#else
#define FASTANN_CPU_RELAX() ((void)0)
#endif

namespace fastann::cpu {

class TileTeam {
 public:
  using Fn = void (*)(void* ctx, int64_t item);

  // The process's team. Never destroyed (helpers may wait on it at exit). A child created by fork() has none
  // of the parent's helpers and may have inherited a locked mutex, so it starts a fresh team.
  static TileTeam& instance() {
    static const bool created = [] {
      current() = new TileTeam();
      pthread_atfork(nullptr, nullptr, [] { current() = new TileTeam(); });
      return true;
    }();
    (void)created;
    return *current();
  }

  // True on a thread that is running a job's items (the caller of run, or a helper).
  static bool in_job() { return in_job_; }

  struct Report {
    int64_t first_join_ns = -1;  // how long after the post the first helper joined; -1: none joined
    int64_t wait_ns = 0;         // how long the caller waited, once all items were taken, for helpers' items
  };

  // Runs fn(ctx, i) for every i in [0, n) on the caller and up to `helpers` helper threads; returns when all
  // are done.
  Report run(int64_t n, int helpers, Fn fn, void* ctx) {
    Report report;
    if (in_job_ || helpers < 1 || n >= kMaxItems) {  // in_job_: a team item of this thread called run
      for (int64_t i = 0; i < n; ++i) fn(ctx, i);
      return report;
    }
    std::unique_lock<std::mutex> post(post_mu_, std::try_to_lock);
    if (!post.owns_lock()) {
      for (int64_t i = 0; i < n; ++i) fn(ctx, i);
      return report;
    }
    const InJob job;
    start_helpers(helpers);
    const uint64_t gen = (generation_.load() + 1) & kGenMask;
    fn_ = fn;
    ctx_ = ctx;
    slots_.store(helpers);
    done_.store(0);
    first_join_ns_.store(-1);
    posted_ns_ = now_ns();
    state_.store(gen << 40 | uint64_t(n) << 20);  // release: the fields above are visible to a claimer
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      generation_.store(gen);
      if (sleepers_ > 0) wake_cv_.notify_all();
    }
    for (int64_t i; (i = claim(gen)) >= 0;) {
      fn(ctx, i);
      done_.fetch_add(1);
    }
    // Every item is taken; wait only for those a helper is still running.
    // Past the first polls the wait yields the core: the helper it waits for may be queued behind this very
    // thread on the same core (a busy neighbour process holds the other one).
    if (done_.load() < n) {
      const int64_t t0 = now_ns();
      for (int k = 0; done_.load() < n; ++k) {
        if (k < 1024) FASTANN_CPU_RELAX();
        else std::this_thread::yield();
      }
      report.wait_ns = now_ns() - t0;
    }
    report.first_join_ns = first_join_ns_.load();
    return report;
  }

 private:
  // state_: generation (24 bits) | item count (20 bits) | next item (20 bits), claimed by compare-and-swap,
  // so a helper that still holds an earlier generation can never take an item of the current job, and one
  // that took an item keeps the job open (the caller waits for done_ == n) while it reads fn_ and ctx_.
  static constexpr uint64_t kGenMask = (uint64_t(1) << 24) - 1;
  static constexpr int64_t kMaxItems = int64_t(1) << 20;

  int64_t claim(uint64_t gen) {
    uint64_t cur = state_.load();
    for (;;) {
      const uint64_t g = cur >> 40, n = (cur >> 20) & (kMaxItems - 1), i = cur & (kMaxItems - 1);
      if (g != gen || i >= n) return -1;
      if (state_.compare_exchange_weak(cur, cur + 1)) return int64_t(i);
    }
  }

  inline static thread_local bool in_job_ = false;
  struct InJob {  // marks this thread as running items for its lifetime
    InJob() { in_job_ = true; }
    ~InJob() { in_job_ = false; }
  };

  static TileTeam*& current() {
    static TileTeam* team = nullptr;
    return team;
  }

  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  void start_helpers(int helpers) {
    while (started_ < helpers) {
      std::thread(&TileTeam::helper_loop, this).detach();
      ++started_;
    }
  }

  void helper_loop() {
    uint64_t seen = generation_.load();
    for (;;) {
      // Wait about 50 us for the next job, then sleep until one is posted. Past the first few hundred polls
      // the wait yields the core, so another runnable thread on it (an OpenMP worker of the next kernel,
      // another process) is not held up by this one.
      const int64_t spin_until = now_ns() + 50'000;
      for (int k = 0; generation_.load() == seen; ++k) {
        if (k < 256) FASTANN_CPU_RELAX();
        else std::this_thread::yield();
        if ((k & 63) == 63 && now_ns() > spin_until) {
          std::unique_lock<std::mutex> lock(wake_mu_);
          ++sleepers_;
          wake_cv_.wait(lock, [&] { return generation_.load() != seen; });
          --sleepers_;
          break;
        }
      }
      seen = generation_.load();
      int64_t i = claim(seen);
      if (i < 0) continue;  // the job ended before this helper arrived
      if (slots_.fetch_sub(1) <= 0) {  // more helpers awake than the thread count in use: run the one item taken
        const InJob job;
        fn_(ctx_, i);
        done_.fetch_add(1);
        continue;
      }
      int64_t expected = -1;
      first_join_ns_.compare_exchange_strong(expected, now_ns() - posted_ns_);
      const Fn fn = fn_;
      void* const ctx = ctx_;
      const InJob job;
      do {
        fn(ctx, i);
        done_.fetch_add(1);
      } while ((i = claim(seen)) >= 0);
    }
  }

  std::mutex post_mu_;  // held by the caller of run for the whole job
  int started_ = 0;     // helpers started (guarded by post_mu_)
  // The current job (written by the caller before it publishes state_).
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t posted_ns_ = 0;
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<int> slots_{0};               // helpers still allowed to join (the thread count in use)
  std::atomic<int64_t> first_join_ns_{-1};  // delay of the first helper to join, -1 if none
  std::atomic<uint64_t> generation_{0};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  int sleepers_ = 0;  // guarded by wake_mu_
};

}  // namespace fastann::cpu
