// Test-only stand-in for the CUDA runtime: runs the rasterizer's .cu kernels on the CPU.
//
// Each thread block runs as blockDim.x*y*z fibers (user-space threads with their own
// stacks) on one OS thread; blocks run one after another. A fiber runs until it reaches a
// barrier (__syncthreads*, a warp vote or shuffle), then the next fiber runs. So barriers,
// warp shuffles and votes, shared memory and atomics behave as the CUDA semantics say, and
// a missing barrier shows up as a wrong result because fibers run ahead of each other.
// What it cannot show: timing, occupancy, the memory model of real hardware and
// GPU-specific float rounding (fused multiply-adds, fast expf).
//
// The launch syntax kernel<<<grid, block, shmem, stream>>>(args) is not C++; the build
// script (tests/cuda_emulation/build_emulated.py) rewrites it to
// ::emu::launch(kernel, grid, block, shmem, stream)(args).
#pragma once

#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// one block runs at a time, so function-static storage is the block's shared memory
#define __shared__ static

using std::max;
using std::min;

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

typedef struct emu_stream* cudaStream_t;
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidConfiguration = 9, cudaErrorInvalidValue = 1 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };

namespace emu {

constexpr int kWarp = 32;
constexpr size_t kStackBytes = 256 * 1024;

struct Barrier {          // generation-counting barrier among the live threads of a group
    int arrived = 0, generation = 0, sum = 0, result = 0;
    int32_t lanes[kWarp];  // warp exchange slots (shuffles and votes)
};

struct Fiber {
    ucontext_t start;
    jmp_buf resume;
    bool started = false, done = false;
    dim3 tid;
    int linear = 0;
};

struct Block {
    std::vector<Fiber> fibers;
    std::vector<Barrier> warps;
    std::vector<int> warp_alive;
    Barrier block;
    int alive = 0, current = 0;
    long progress = 0;  // grows whenever a fiber arrives, a barrier opens or a fiber ends
};

inline Block* g_block = nullptr;
inline jmp_buf g_scheduler;
inline dim3 g_blockIdx, g_blockDim, g_gridDim;
inline cudaError_t g_last_error = cudaSuccess;
inline std::vector<char> g_stacks;
inline void (*g_body)(void*) = nullptr;
inline void* g_body_arg = nullptr;

inline std::string g_failure;  // set by a fiber that hit an unsupported or invalid operation

inline Fiber& me() { return g_block->fibers[g_block->current]; }

// From inside a fiber: stop the block; run_block throws `why` (exceptions cannot cross fibers).
[[noreturn]] inline void fail(const char* why) {
    g_failure = why;
    _longjmp(g_scheduler, 1);
}

// back to the scheduler; returns when this fiber is scheduled again
inline void yield() {
    if (!_setjmp(me().resume)) _longjmp(g_scheduler, 1);
}

inline void open_if_complete(Barrier& b, int live) {
    if (b.arrived > 0 && b.arrived == live) {
        b.result = b.sum;
        b.sum = 0;
        b.arrived = 0;
        ++b.generation;
        ++g_block->progress;
    }
}

// arrive with `value` added to the barrier's sum; wait until all live members have arrived
inline int arrive_and_wait(Barrier& b, int live, int value) {
    const int gen = b.generation;
    b.sum += value;
    ++b.arrived;
    ++g_block->progress;
    open_if_complete(b, live);
    while (b.generation == gen) yield();
    return b.result;
}

inline int warp_index() { return me().linear / kWarp; }
inline int lane_index() { return me().linear % kWarp; }

inline Barrier& my_warp() {
    const int w = warp_index();
    const int size = std::min(kWarp, (int)g_block->fibers.size() - w * kWarp);
    if (g_block->warp_alive[w] != size) fail("emulated CUDA: full-mask warp operation after a lane of the warp exited");
    return g_block->warps[w];
}

inline void fiber_entry() {
    g_body(g_body_arg);
    Fiber& f = me();
    f.done = true;
    --g_block->alive;
    --g_block->warp_alive[f.linear / kWarp];
    ++g_block->progress;
    // an exiting thread no longer holds back __syncthreads of the others
    open_if_complete(g_block->block, g_block->alive);
    _longjmp(g_scheduler, 1);
}

// Runs body(arg) once per thread of one block; returns when all threads have finished.
inline void run_block(void (*body)(void*), void* arg) {
    const int n = (int)(g_blockDim.x * g_blockDim.y * g_blockDim.z);
    Block b;
    b.fibers.resize(n);
    b.warps.resize((n + kWarp - 1) / kWarp);
    b.warp_alive.assign(b.warps.size(), 0);
    b.alive = n;
    if (g_stacks.size() < (size_t)n * kStackBytes) g_stacks.resize((size_t)n * kStackBytes);
    for (int t = 0; t < n; ++t) {
        Fiber& f = b.fibers[t];
        f.linear = t;
        f.tid = dim3(t % g_blockDim.x, (t / g_blockDim.x) % g_blockDim.y, t / (g_blockDim.x * g_blockDim.y));
        ++b.warp_alive[t / kWarp];
        getcontext(&f.start);
        f.start.uc_stack.ss_sp = g_stacks.data() + (size_t)t * kStackBytes;
        f.start.uc_stack.ss_size = kStackBytes;
        f.start.uc_link = nullptr;
        makecontext(&f.start, fiber_entry, 0);
    }
    g_block = &b;
    g_body = body;
    g_body_arg = arg;
    // GS_EMULATION_SCHEDULE=reverse runs the threads last to first: a GPU promises no order,
    // so results that depend on one (a race) differ between the two schedules
    const char* schedule = getenv("GS_EMULATION_SCHEDULE");
    const bool reverse = schedule && strcmp(schedule, "reverse") == 0;
    long seen = -1;
    while (b.alive > 0) {
        if (b.progress == seen) {
            g_block = nullptr;
            throw std::logic_error("emulated CUDA: deadlock (some threads wait at a barrier the others never reach)");
        }
        seen = b.progress;
        for (int k = 0; k < n; ++k) {
            const int t = reverse ? n - 1 - k : k;
            Fiber& f = b.fibers[t];
            if (f.done) continue;
            b.current = t;
            if (!_setjmp(g_scheduler)) {
                if (!f.started) {
                    f.started = true;
                    setcontext(&f.start);
                }
                _longjmp(f.resume, 1);
            }
            if (!g_failure.empty()) {
                const std::string why = g_failure;
                g_failure.clear();
                g_block = nullptr;
                throw std::logic_error(why);
            }
        }
    }
    g_block = nullptr;
}

template <class... Params>
struct Launch {
    void (*kernel)(Params...);
    dim3 grid, block;

    template <class... Args>
    void operator()(Args&&... args) const {
        if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x * block.y * block.z == 0 ||
            block.x * block.y * block.z > 1024) {
            g_last_error = cudaErrorInvalidConfiguration;
            return;
        }
        auto call = [&]() { kernel(args...); };  // each thread gets its own copy of the arguments
        using Call = decltype(call);
        g_gridDim = grid;
        g_blockDim = block;
        for (unsigned z = 0; z < grid.z; ++z)
            for (unsigned y = 0; y < grid.y; ++y)
                for (unsigned x = 0; x < grid.x; ++x) {
                    g_blockIdx = dim3(x, y, z);
                    run_block([](void* c) { (*static_cast<Call*>(c))(); }, &call);
                }
    }
};

template <class... Params>
Launch<Params...> launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t = 0, cudaStream_t = nullptr) {
    return Launch<Params...>{kernel, grid, block};
}

}  // namespace emu

#define threadIdx (::emu::me().tid)
#define blockIdx (::emu::g_blockIdx)
#define blockDim (::emu::g_blockDim)
#define gridDim (::emu::g_gridDim)

inline void __syncthreads() { emu::arrive_and_wait(emu::g_block->block, emu::g_block->alive, 0); }
inline int __syncthreads_count(int pred) {
    return emu::arrive_and_wait(emu::g_block->block, emu::g_block->alive, pred ? 1 : 0);
}

inline int __any_sync(unsigned mask, int pred) {
    if (mask != 0xffffffffu) emu::fail("emulated CUDA: only full-mask votes are emulated");
    emu::Barrier& w = emu::my_warp();
    const int live = emu::g_block->warp_alive[emu::warp_index()];
    const int n = emu::arrive_and_wait(w, live, pred ? 1 : 0);
    emu::arrive_and_wait(w, live, 0);  // nobody starts the next vote before all have read this one
    return n > 0;
}

inline float __shfl_down_sync(unsigned mask, float v, unsigned delta) {
    if (mask != 0xffffffffu) emu::fail("emulated CUDA: only full-mask shuffles are emulated");
    emu::Barrier& w = emu::my_warp();
    const int live = emu::g_block->warp_alive[emu::warp_index()];
    const int lane = emu::lane_index();
    memcpy(&w.lanes[lane], &v, sizeof v);
    emu::arrive_and_wait(w, live, 0);
    float r = v;  // a source lane outside the warp returns the caller's own value
    if (lane + (int)delta < live) memcpy(&r, &w.lanes[lane + delta], sizeof r);
    emu::arrive_and_wait(w, live, 0);
    return r;
}

inline float atomicAdd(float* p, float v) {
    const float old = *p;
    *p = old + v;
    return old;
}
inline int atomicMax(int* p, int v) {
    const int old = *p;
    *p = std::max(old, v);
    return old;
}

inline unsigned __float_as_uint(float f) {
    unsigned u;
    memcpy(&u, &f, sizeof u);
    return u;
}

inline cudaError_t cudaGetLastError() {
    const cudaError_t e = emu::g_last_error;
    emu::g_last_error = cudaSuccess;
    return e;
}
inline const char* cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess                     ? "no error"
           : e == cudaErrorInvalidConfiguration ? "invalid configuration argument"
                                                : "invalid argument";
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t = nullptr) {
    if (bytes) memcpy(dst, src, bytes);
    return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
