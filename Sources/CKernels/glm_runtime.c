// Placeholder translation unit; kernels land with the engine work.
#include "glm_kernels.h"
