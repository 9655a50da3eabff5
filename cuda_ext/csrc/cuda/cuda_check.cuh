// Errors from kernel launches and CUDA library calls, raised as exceptions (RuntimeError
// in Python) instead of surfacing later as garbage or in an unrelated call.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace gs {

inline void check_cuda(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        throw std::runtime_error(std::string("rasterize: CUDA ") + what + " failed: " + cudaGetErrorString(e));
}

// after a <<<...>>> launch: catches bad launch configurations and earlier asynchronous faults
inline void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

}  // namespace gs
