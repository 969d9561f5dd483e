/* ABI check, our side: the values, sizes and offsets of hami/cuda_abi.h (see abi_check_real.c). */
#include <stddef.h>

#include "hami/cuda_abi.h"

#define CONST(name) (long long)(name),
#define SIZE(type) (long long)sizeof(type),
#define OFFSET(type, member) (long long)offsetof(type, member),
const long long hami_abi_ours[] = {
#include "abi_check_list.h"
};
#undef CONST
#undef SIZE
#undef OFFSET
#define CONST(name) #name,
#define SIZE(type) "sizeof(" #type ")",
#define OFFSET(type, member) "offsetof(" #type ", " #member ")",
const char *const hami_abi_names[] = {
#include "abi_check_list.h"
};
const size_t hami_abi_count = sizeof hami_abi_ours / sizeof hami_abi_ours[0];
