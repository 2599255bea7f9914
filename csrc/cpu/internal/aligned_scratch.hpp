// aligned_scratch.hpp: AlignedScratch<T>, a fixed-size heap buffer that starts on a 64-byte boundary (one cache
// line, one AVX-512 vector), so that packed operands streamed by a micro-kernel never split a vector load
// across two lines. Internal to csrc/cpu; usable by any family (no ISA-specific code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace fastann::cpu {
// Internal linkage: files compiled for different ISAs each keep their own copy (gemm_packed.hpp says why).
namespace {

template <class T>
class AlignedScratch {
 public:
  explicit AlignedScratch(int64_t n = 0) { resize(n); }
  ~AlignedScratch() { std::free(ptr_); }
  AlignedScratch(const AlignedScratch&) = delete;
  AlignedScratch& operator=(const AlignedScratch&) = delete;
  // n elements (contents undefined); n <= 0 leaves no buffer (data() == nullptr).
  void resize(int64_t n) {
    std::free(ptr_);
    ptr_ = nullptr;
    if (n > 0) {
      const size_t bytes = (static_cast<size_t>(n) * sizeof(T) + 63) / 64 * 64;
      ptr_ = static_cast<T*>(std::aligned_alloc(64, bytes));
      if (!ptr_) throw std::bad_alloc();
    }
  }
  T* data() { return ptr_; }
  const T* data() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
};

}  // namespace
}  // namespace fastann::cpu
