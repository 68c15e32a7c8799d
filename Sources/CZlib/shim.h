// zlib from Debian's zlib1g-dev. Only LegSegIO imports this module.
#include <zlib.h>

// deflateInit2 and inflateInit2 are macros, which Swift does not import.
static inline int legseg_inflate_init_auto(z_stream *s) {
    return inflateInit2(s, 15 + 32);  // 15-bit window; +32: accept gzip or zlib headers
}
static inline int legseg_deflate_init_gzip(z_stream *s, int level) {
    return deflateInit2(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: write a gzip wrapper
}
