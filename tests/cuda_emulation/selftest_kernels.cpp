// Kernels that check the CUDA emulation itself: each primitive against its documented
// semantics, and a racy kernel that must give a different answer than its correct twin.
// Built as a plain shared library (no torch) and called through ctypes.
#include <cuda_runtime.h>

namespace {

constexpr int N = 256;

// sum of 1..N through shared memory, with the barrier the algorithm needs (or without it)
template <bool WithBarrier>
__global__ void block_sum(int* out) {
    __shared__ int vals[N];
    const int t = threadIdx.x;
    vals[t] = t + 1;
    if (WithBarrier) __syncthreads();
    if (t == 0) {
        int s = 0;
        for (int i = 0; i < N; ++i) s += vals[i];
        out[blockIdx.x] = s;
    }
    if (WithBarrier) __syncthreads();
    vals[t] = -1000;  // what the next block sees if it reads before writing
}

__global__ void warp_sums(const float* in, float* out) {
    const int t = threadIdx.x;
    float v = in[t];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if ((t & 31) == 0) out[t / 32] = v;
}

__global__ void counts(int* out) {
    const int t = threadIdx.y * blockDim.x + threadIdx.x;
    const int c = __syncthreads_count(t % 3 == 0);
    const int any = __any_sync(0xffffffffu, t == 37);
    if (t == 0) out[0] = c;
    if (t % 32 == 0) out[1 + t / 32] = any;
}

// lane 0 of each warp waits for the block while its warp-mates wait for lane 0
__global__ void deadlock() {
    if (threadIdx.x % 32 == 0)
        __syncthreads();
    else
        __any_sync(0xffffffffu, 1);
}

}  // namespace

extern "C" {
// returns 0 on success, 1 when the emulation raised
int run_block_sum(int with_barrier, int blocks, int* out) {
    try {
        if (with_barrier)
            ::emu::launch(block_sum<true>, blocks, N)(out);
        else
            ::emu::launch(block_sum<false>, blocks, N)(out);
    } catch (const std::exception&) {
        return 1;
    }
    return 0;
}
int run_warp_sums(const float* in, float* out) {
    ::emu::launch(warp_sums, 1, 96)(in, out);
    return 0;
}
int run_counts(int* out) {
    ::emu::launch(counts, 1, dim3(16, 8))(out);
    return 0;
}
int run_deadlock() {
    try {
        ::emu::launch(deadlock, 1, 64)();
    } catch (const std::logic_error&) {
        return 1;
    }
    return 0;
}
int run_bad_launch() {
    ::emu::launch(deadlock, 1, 2048)();
    return (int)cudaGetLastError();
}
}
