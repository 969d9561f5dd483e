/* Second test library defining hook_probe_value (see hook_next_first.c). */
__attribute__((visibility("default"))) int hook_probe_value(void) { return 2; }
