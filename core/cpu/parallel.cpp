#include "moegrad/core/cpu/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "moegrad/core/threading.h"

namespace moegrad::cpu {

namespace {

// One job at a time: chunk 0 runs on the calling thread, chunks 1.. on the workers.
class ThreadPool {
 public:
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void run(int chunks, const std::function<void(int)>& chunk) {
    std::lock_guard<std::mutex> job_lock(job_mu_);  // callers from several threads take turns
    ensure_workers(chunks - 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &chunk;
      next_ = 1;
      total_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    wake_.notify_all();
    chunk(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) workers_.emplace_back([this] { work(); });
  }

  void work() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      wake_.wait(lock, [&] { return stop_ || (generation_ != seen && next_ < total_); });
      if (stop_) return;
      seen = generation_;
      while (next_ < total_) {
        const int mine = next_++;
        const std::function<void(int)>* job = job_;
        lock.unlock();
        (*job)(mine);
        lock.lock();
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  std::mutex job_mu_, mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int next_ = 0, total_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f) {
  const int threads = num_threads();
  const int64_t chunks = std::min<int64_t>(threads, n / std::max<int64_t>(grain, 1));
  if (chunks <= 1) {
    if (n > 0) f(0, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  pool().run(static_cast<int>(chunks), [&](int c) {
    const int64_t begin = c * per, end = std::min(n, begin + per);
    if (begin < end) f(begin, end);
  });
}

}  // namespace moegrad::cpu
