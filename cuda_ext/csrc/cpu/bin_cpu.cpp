// CPU tile binning. The result is the order a stable sort of the 64-bit keys
// (tile id << 32 | depth bits), emitted in Gaussian-index order, would give:
// a stable radix sort by depth, then a stable bucket pass by tile.
#include <algorithm>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../gaussian_math.h"
#include "../kernels.h"

namespace gs {

// Tiles are split into bands of whole tile rows; a band's thread visits every Gaussian (a
// cheap test on its rect) and touches only its own tiles, so the counts and the lists are
// the same for any number of threads, and the lists' writes stay within a band.
static int num_bands(int tiles_y) {
#ifdef _OPENMP
    // a few bands per thread balance the load; a band of fewer than 8 tile rows does not
    // repay its pass over all Gaussians (measured: small images bin fastest in one band)
    return std::max(1, std::min(tiles_y / 8, 4 * omp_get_max_threads()));
#else
    (void)tiles_y;
    return 1;
#endif
}

// Calls visit(g, tile) for every tile that Gaussian at(k) covers, k = 0..n-1 in order (at
// returns -1 to skip k), one band of tile rows per task: within each tile the visits come
// in k order, whichever thread runs the band. Counting and filling share this walk, so
// they agree on every tile.
template <class At, class Visit>
void visit_tiles_by_band(int64_t n, At at, const int32_t* rects, int tiles_x, int tiles_y, Visit visit) {
    const int bands = num_bands(tiles_y);
#pragma omp parallel for schedule(dynamic, 1)
    for (int band = 0; band < bands; ++band) {
        const int y0 = (int)((int64_t)tiles_y * band / bands), y1 = (int)((int64_t)tiles_y * (band + 1) / bands);
        for (int64_t k = 0; k < n; ++k) {
            const int32_t g = at(k);
            if (g < 0) continue;
            const int32_t* r = rects + 4 * (int64_t)g;
            const int ya = std::max(r[1], y0), yb = std::min(r[3], y1);
            for (int ty = ya; ty < yb; ++ty)
                for (int tx = r[0]; tx < r[2]; ++tx) visit(g, (int64_t)ty * tiles_x + tx);
        }
    }
}

int64_t bin_count_cpu(int64_t N, const int32_t* radii, const int32_t* rects, int tiles_x, int tiles_y,
                      int64_t* tile_offsets) {
    const int64_t T = (int64_t)tiles_x * tiles_y;
    std::vector<int64_t> counts(T, 0);
    visit_tiles_by_band(
        N, [&](int64_t i) { return radii[i] > 0 ? (int32_t)i : -1; }, rects, tiles_x, tiles_y,
        [&](int32_t, int64_t tile) { counts[tile] += 1; });
    int64_t total = 0;
    for (int64_t t = 0; t < T; ++t) {
        tile_offsets[t] = total;
        total += counts[t];
    }
    tile_offsets[T] = total;
    return total;
}

// stable LSD radix sort of (key, index) pairs by 32-bit key
static void radix_sort_u32(std::vector<uint32_t>& keys, std::vector<int32_t>& vals) {
    const size_t n = keys.size();
    std::vector<uint32_t> k2(n);
    std::vector<int32_t> v2(n);
    for (int shift = 0; shift < 32; shift += 8) {
        size_t hist[257] = {0};
        for (size_t i = 0; i < n; ++i) hist[((keys[i] >> shift) & 0xFFu) + 1]++;
        if (hist[1 + ((keys.empty() ? 0 : keys[0]) >> shift & 0xFFu)] == n) continue;  // all equal digit
        for (int b = 0; b < 256; ++b) hist[b + 1] += hist[b];
        for (size_t i = 0; i < n; ++i) {
            const size_t dst = hist[(keys[i] >> shift) & 0xFFu]++;
            k2[dst] = keys[i];
            v2[dst] = vals[i];
        }
        keys.swap(k2);
        vals.swap(v2);
    }
}

static inline uint32_t depth_bits(float z) {
    // depths of visible Gaussians are >= the near plane (> 0): IEEE bits sort like the floats
    uint32_t u;
    __builtin_memcpy(&u, &z, 4);
    return u;
}

void bin_fill_cpu(int64_t N, const int32_t* radii, const int32_t* rects, const float* depths, int tiles_x, int tiles_y,
                  const int64_t* tile_offsets, int32_t* isect_ids) {
    std::vector<uint32_t> keys;
    std::vector<int32_t> order;
    keys.reserve(N);
    order.reserve(N);
    for (int64_t i = 0; i < N; ++i) {
        if (radii[i] <= 0) continue;
        keys.push_back(depth_bits(depths[i]));
        order.push_back((int32_t)i);
    }
    radix_sort_u32(keys, order);
    const int64_t T = (int64_t)tiles_x * tiles_y;
    std::vector<int64_t> cursor(tile_offsets, tile_offsets + T);
    // front to back: each tile's list comes out sorted
    visit_tiles_by_band((int64_t)order.size(), [&](int64_t k) { return order[k]; }, rects, tiles_x, tiles_y,
                        [&](int32_t g, int64_t tile) { isect_ids[cursor[tile]++] = g; });
}

}  // namespace gs
