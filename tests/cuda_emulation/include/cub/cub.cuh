// Test-only stand-in for the two device-wide primitives the rasterizer uses: an inclusive
// prefix sum and a stable radix sort of key/value pairs on a bit range of the keys. Same
// calling protocol: a first call with temp == nullptr asks for the scratch size, and the
// sort leaves its result in the DoubleBuffer's other buffer and flips the selector.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace cub {

template <class T>
struct DoubleBuffer {
    T* d_buffers[2];
    int selector = 0;
    DoubleBuffer(T* current, T* alternate) : d_buffers{current, alternate} {}
    T* Current() const { return d_buffers[selector]; }
    T* Alternate() const { return d_buffers[selector ^ 1]; }
};

namespace detail {
constexpr size_t kScratch = 64;  // what the emulation asks for; calls must pass at least this much
inline cudaError_t check_scratch(void* temp, size_t& bytes) {
    if (temp == nullptr) {
        bytes = kScratch;
        return cudaSuccess;
    }
    return bytes >= kScratch ? cudaSuccess : cudaErrorInvalidValue;
}
}  // namespace detail

struct DeviceScan {
    template <class In, class Out, class NumItems>
    static cudaError_t InclusiveSum(void* temp, size_t& bytes, In in, Out out, NumItems n, cudaStream_t = nullptr) {
        const cudaError_t e = detail::check_scratch(temp, bytes);
        if (temp == nullptr || e != cudaSuccess) return e;
        std::partial_sum(in, in + n, out);
        return cudaSuccess;
    }
};

struct DeviceRadixSort {
    template <class Key, class Value, class NumItems>
    static cudaError_t SortPairs(void* temp, size_t& bytes, DoubleBuffer<Key>& keys, DoubleBuffer<Value>& values,
                                 NumItems n, int begin_bit, int end_bit, cudaStream_t = nullptr) {
        const cudaError_t e = detail::check_scratch(temp, bytes);
        if (temp == nullptr || e != cudaSuccess) return e;
        if (begin_bit < 0 || end_bit > (int)(8 * sizeof(Key)) || begin_bit >= end_bit) return cudaErrorInvalidValue;
        const int width = end_bit - begin_bit;
        const Key mask = width == (int)(8 * sizeof(Key)) ? ~Key(0) : ((Key(1) << width) - 1);
        const Key* k = keys.Current();
        std::vector<int64_t> order((size_t)n);
        std::iota(order.begin(), order.end(), int64_t(0));
        // only bits [begin_bit, end_bit) take part in the order, and equal keys keep their order
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
            return ((k[a] >> begin_bit) & mask) < ((k[b] >> begin_bit) & mask);
        });
        for (int64_t i = 0; i < (int64_t)n; ++i) {
            keys.Alternate()[i] = k[order[i]];
            values.Alternate()[i] = values.Current()[order[i]];
        }
        keys.selector ^= 1;
        values.selector ^= 1;
        return cudaSuccess;
    }
};

}  // namespace cub
