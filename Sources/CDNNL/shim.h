// oneDNN 2.x C API from Debian's libdnnl-dev. Only LegSegDNNL imports this module.
// Cast-style and function-like macros are not imported by Swift: re-export them here as inline functions.
#include <oneapi/dnnl/dnnl.h>

static inline int legseg_dnnl_arg_attr_multiple_post_op(int index) { return DNNL_ARG_ATTR_MULTIPLE_POST_OP(index); }
static inline void *legseg_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
static inline void *legseg_dnnl_memory_none(void) { return DNNL_MEMORY_NONE; }
