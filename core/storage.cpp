#include "moegrad/core/storage.h"

#include "moegrad/core/backend.h"

namespace moegrad {

Storage::Storage(size_t nbytes, Backend& backend)
    : data_(backend.allocate(nbytes)), nbytes_(nbytes), backend_(backend) {}

Storage::~Storage() { backend_.deallocate(data_, nbytes_); }

}  // namespace moegrad
