// A fixed set of worker threads for the training kernels. `run(n, fn)` calls fn(0..n-1) once each,
// fn(0) on the calling thread, and returns when all are done. Work is split by the caller into
// fixed, index-based ranges, so results never depend on which thread ran which range or on timing.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace st {

class Pool {
 public:
  static Pool& instance();
  // Runs fn(t) for t in [0, n). Falls back to running them one after another on this thread when
  // another thread is using the pool (same results: the split does not change).
  void run(int n, const std::function<void(int)>& fn);
  // Stops and joins the workers (when the last environment using the addon is torn down).
  void shutdown();
  // Lets a stopped pool start workers again (a new environment loaded the addon).
  void restart();

 private:
  void ensure_workers(int n);
  void worker_loop(int index);

  std::mutex run_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  int active_ = 0;
  bool stop_ = false;
};

}  // namespace st
