// The tile kernels of one instruction set. Included by raster_cpu.cpp inside a kernel
// namespace, after BW, BH and L (and HL where the vectors are made of parts). The includer
// names the instruction set with GS_ANY_AVX2 or GS_ANY_AVX512 (neither: the baseline), and
// defines GS_NATIVE_LANES where one register holds all L lanes; otherwise the kernels run on
// vectors of L / HL parts (raster_pair_vectors.h). No include guard on purpose.
#if defined(GS_ANY_AVX512)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq")
#pragma GCC optimize("fp-contract=off")
#elif defined(GS_ANY_AVX2)
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

#ifdef GS_NATIVE_LANES
#include "raster_tile_body.h"
#else
#include "raster_pair_vectors.h"
#define GS_PAIR_VECTORS
#include "raster_tile_body.h"
#undef GS_PAIR_VECTORS
#endif

#if defined(GS_ANY_AVX512) || defined(GS_ANY_AVX2)
#pragma GCC pop_options
#endif
