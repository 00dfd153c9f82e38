// Placeholder translation unit; the oneDNN wrapper lands with the engine work.
#include "glm_dnnl.h"
#include <dnnl.h>
