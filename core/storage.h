#pragma once
// A block of memory owned by one backend, shared by every tensor that views it.
#include <cstddef>

namespace moegrad {

class Backend;

class Storage {
 public:
  Storage(size_t nbytes, Backend& backend);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Backend& backend() const { return backend_; }

 private:
  void* data_;
  size_t nbytes_;
  Backend& backend_;
};

}  // namespace moegrad
