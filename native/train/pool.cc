#include "pool.h"

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ST_PAUSE() _mm_pause()
#else
#define ST_PAUSE() std::this_thread::yield()
#endif

namespace st {

namespace {
// At most a few hundred microseconds of spinning (20,000 pauses) before a worker sleeps: long
// enough to span the JavaScript between two kernel calls of one training step, short enough not
// to hold a core for long while the caller is idle.
constexpr int kSpinIterations = 20000;
}  // namespace

Pool& Pool::instance() {
  // Never destroyed: shutdown() joins the threads; a static destructor would run too late.
  static Pool* pool = new Pool();
  return *pool;
}

void Pool::ensure_workers(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  while (static_cast<int>(workers_.size()) < n - 1 && !stop_) {
    int index = static_cast<int>(workers_.size()) + 1;
    workers_.emplace_back([this, index] { worker_loop(index); });
  }
}

void Pool::run(int n, const std::function<void(int)>& fn) {
  if (n <= 1) {
    fn(0);
    return;
  }
  std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
  if (!busy.owns_lock() || stop_) {
    for (int t = 0; t < n; t++) fn(t);
    return;
  }
  ensure_workers(n);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    active_ = n;
    pending_.store(n - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  fn(0);
  // Spin, then yield: when the machine is oversubscribed a worker may be waiting for this core.
  for (int spins = 0; pending_.load(std::memory_order_acquire) > 0; spins++) {
    if (spins < kSpinIterations) ST_PAUSE();
    else std::this_thread::yield();
  }
}

void Pool::worker_loop(int index) {
  flush_denormals_forever();
  uint64_t seen = 0;
  for (;;) {
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
      ST_PAUSE();
      spins++;
    }
    const std::function<void(int)>* job;
    int active;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_acquire);
      job = job_;
      active = active_;
    }
    if (index < active) {
      (*job)(index);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

void Pool::restart() {
  std::lock_guard<std::mutex> busy(run_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = false;
}

void Pool::shutdown() {
  std::lock_guard<std::mutex> busy(run_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

#if defined(__x86_64__) || defined(__i386__)
namespace {
constexpr unsigned kFtzDaz = 0x8040;  // MXCSR flush-to-zero (bit 15) and denormals-are-zero (bit 6)
}
FlushDenormals::FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtzDaz); }
FlushDenormals::~FlushDenormals() { _mm_setcsr(saved_); }
void flush_denormals_forever() { _mm_setcsr(_mm_getcsr() | kFtzDaz); }
#else
FlushDenormals::FlushDenormals() : saved_(0) {}
FlushDenormals::~FlushDenormals() {}
void flush_denormals_forever() {}
#endif

}  // namespace st
