// zlib from Debian's zlib1g-dev. Only LegSegIO imports this module.
#include <zlib.h>
