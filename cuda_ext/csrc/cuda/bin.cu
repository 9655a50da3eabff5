// CUDA tile binning: per-Gaussian intersection counts, an inclusive scan (64-bit), one
// (tile id << 32 | depth bits) key per intersection, a cub radix sort of the keys with the
// Gaussian ids as values, and per-tile ranges from the sorted keys.
#include <cuda_runtime.h>

#include <cub/cub.cuh>

#include "../gaussian_math.h"
#include "../kernels.h"
#include "cuda_check.cuh"

namespace gs {
namespace {

constexpr int BLOCK = 256;
inline unsigned grid_for(int64_t n) { return (unsigned)((n + BLOCK - 1) / BLOCK); }

__global__ void count_kernel(int64_t N, const int32_t* radii, const int32_t* rects, int64_t* counts) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const int32_t* r = rects + 4 * i;
    counts[i] = radii[i] > 0 ? (int64_t)(r[2] - r[0]) * (r[3] - r[1]) : 0;
}

__global__ void keys_kernel(int64_t N, const int32_t* radii, const int32_t* rects, const float* depths,
                            const int64_t* cum, int tiles_x, uint64_t* keys, int32_t* ids) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N || radii[i] <= 0) return;
    const int32_t* r = rects + 4 * i;
    int64_t k = i == 0 ? 0 : cum[i - 1];
    const uint64_t dbits = (uint64_t)__float_as_uint(depths[i]);  // depth > 0: bits sort like floats
    for (int ty = r[1]; ty < r[3]; ++ty)
        for (int tx = r[0]; tx < r[2]; ++tx, ++k) {
            keys[k] = ((uint64_t)((int64_t)ty * tiles_x + tx) << 32) | dbits;
            ids[k] = (int32_t)i;
        }
}

// offsets[t] = index of the first intersection whose tile is >= t
__global__ void offsets_kernel(int64_t M, int64_t T, const uint64_t* keys, int64_t* offsets) {
    const int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k > M) return;
    const int64_t prev = k == 0 ? -1 : (int64_t)(keys[k - 1] >> 32);
    const int64_t cur = k == M ? T : (int64_t)(keys[k] >> 32);
    for (int64_t t = prev + 1; t <= cur; ++t) offsets[t] = k;
}

int key_bits(int tiles_x, int tiles_y) {
    int64_t T = (int64_t)tiles_x * tiles_y;
    int b = 0;
    while (((int64_t)1 << b) < T) ++b;
    return 32 + b;
}

}  // namespace

size_t bin_temp_bytes_cuda(int64_t N, int64_t M, int tiles_x, int tiles_y) {
    size_t scan_bytes = 0, sort_bytes = 0;
    check_cuda(cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, (int64_t*)nullptr, (int64_t*)nullptr, (int64_t)N),
               "scan size query");
    if (M > 0) {
        cub::DoubleBuffer<uint64_t> k(nullptr, nullptr);
        cub::DoubleBuffer<int32_t> v(nullptr, nullptr);
        check_cuda(
            cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, k, v, (int64_t)M, 0, key_bits(tiles_x, tiles_y)),
            "radix sort size query");
    }
    // the scan also needs N int64 counts in front of its scratch
    return (scan_bytes > sort_bytes ? scan_bytes : sort_bytes) + (size_t)N * sizeof(int64_t) + 256;
}

int64_t bin_count_cuda(int64_t N, const int32_t* radii, const int32_t* rects, int64_t* isect_cum, void* temp,
                       size_t temp_bytes, void* stream) {
    if (N == 0) return 0;
    cudaStream_t s = (cudaStream_t)stream;
    int64_t* counts = (int64_t*)temp;
    char* scratch = (char*)temp + (((size_t)N * sizeof(int64_t) + 255) / 256) * 256;
    size_t scratch_bytes = temp_bytes - (size_t)(scratch - (char*)temp);
    count_kernel<<<grid_for(N), BLOCK, 0, s>>>(N, radii, rects, counts);
    check_launch("count_kernel");
    check_cuda(cub::DeviceScan::InclusiveSum(scratch, scratch_bytes, counts, isect_cum, (int64_t)N, s), "scan");
    int64_t M = 0;
    check_cuda(cudaMemcpyAsync(&M, isect_cum + (N - 1), sizeof(int64_t), cudaMemcpyDeviceToHost, s),
               "copy of the intersection count");
    check_cuda(cudaStreamSynchronize(s), "binning");  // also reports faults of the kernels before it
    return M;
}

void bin_fill_cuda(int64_t N, int64_t M, const int32_t* radii, const int32_t* rects, const float* depths,
                   const int64_t* isect_cum, int tiles_x, int tiles_y, uint64_t* keys_a, uint64_t* keys_b,
                   int32_t* ids_a, int32_t* ids_b, void* temp, size_t temp_bytes, int64_t* tile_offsets,
                   int32_t* isect_ids, void* stream) {
    cudaStream_t s = (cudaStream_t)stream;
    const int64_t T = (int64_t)tiles_x * tiles_y;
    if (M > 0) {
        keys_kernel<<<grid_for(N), BLOCK, 0, s>>>(N, radii, rects, depths, isect_cum, tiles_x, keys_a, ids_a);
        check_launch("keys_kernel");
        cub::DoubleBuffer<uint64_t> kb(keys_a, keys_b);
        cub::DoubleBuffer<int32_t> vb(ids_a, ids_b);
        check_cuda(
            cub::DeviceRadixSort::SortPairs(temp, temp_bytes, kb, vb, (int64_t)M, 0, key_bits(tiles_x, tiles_y), s),
            "radix sort");
        if (vb.Current() != isect_ids)
            check_cuda(
                cudaMemcpyAsync(isect_ids, vb.Current(), (size_t)M * sizeof(int32_t), cudaMemcpyDeviceToDevice, s),
                "copy of the sorted ids");
        offsets_kernel<<<grid_for(M + 1), BLOCK, 0, s>>>(M, T, kb.Current(), tile_offsets);
        check_launch("offsets_kernel");
    } else {
        offsets_kernel<<<1, BLOCK, 0, s>>>(0, T, keys_a, tile_offsets);
        check_launch("offsets_kernel");
    }
}

}  // namespace gs
