/*
 * Compute metering engine (compute.c): what a launch hook calls, on a device with a compute
 * cap, around the driver's launch.  It estimates the launch's device time (learned per
 * function/graph and grid size from measured durations), takes it from the device's token
 * bucket in the region (sleeping for the deficit), samples some launches with a pair of events
 * and harvests them later without blocking, correcting the bucket by (measured - estimated).
 * One engine serves both vendors: CUDA (CUevent through libcuda) and Ascend (ACL events through
 * libascendcl, or the runtime's rtEvent* when only libruntime is loaded); the vendor-specific
 * part is a small table of event operations (hami_compute_driver / hami_compute_acl_driver).
 *
 * Protocol for a launch wrapper (every launch kind, every resolution path):
 *
 *     hami_compute_ticket t;
 *     CUresult rc = hami_compute_before_launch(dev, func_key, grid_blocks, stream, ptsz, &t);
 *     if (rc != CUDA_SUCCESS) return rc;          // (today always CUDA_SUCCESS)
 *     rc = real_launch(...);
 *     hami_compute_after_launch(&t, rc);          // ALWAYS, exactly once, same thread
 *     return rc;
 *
 * (Ascend: hami_compute_admit_vendor(HAMI_VENDOR_ASCEND, ...) / hami_compute_complete_vendor.)
 *
 * Units: every *_ns is nanoseconds; costs and estimates are device-ns, sleeps wall-ns.
 * Thread-safe; no lock and no malloc on the launch path (a per-device try-lock guards only the
 * harvest, which a thread skips when another holds it).
 */
#ifndef HAMI_CUDA_COMPUTE_H
#define HAMI_CUDA_COMPUTE_H

#include <stdint.h>

#include "hami/cuda_abi.h"
#include "hami/region.h"
#include "hook_state.h"

/* What before_launch hands to after_launch.  Opaque to the caller; lives on its stack. */
typedef struct hami_compute_ticket {
    hami_region *region;   /* NULL: this launch is not metered, after_launch does nothing */
    int dev_slot;          /* region device slot */
    int proc_slot;         /* region process slot (-1: device counters only) */
    int sample_index;      /* event-pool slot holding this launch's start event, or -1 */
    uint64_t estimate_ns;  /* device-ns taken from the bucket for this launch */
    uint64_t throttled_ns; /* wall-ns this launch slept before it was let through */
    uint64_t now_ns;       /* (coarse) clock at admission, reused by the counter batching */
    void *stream;          /* the stream the events go to (CU_STREAM_PER_THREAD for ptsz NULL) */
    int vendor;            /* HAMI_VENDOR_*: whose event operations the sample uses */
} hami_compute_ticket;

/* Vendor-neutral entry points (the CUDA ones below are these with HAMI_VENDOR_CUDA).  `stream`
 * is the vendor's stream handle (NULL: the default stream); launch_ok is 1 when the real call
 * succeeded.  Same contract as hami_compute_admit / hami_compute_complete. */
int hami_compute_admit_vendor(int vendor, hami_region *region, int dev_slot, int proc_slot,
                              uintptr_t func_key, uint64_t grid_blocks, void *stream,
                              int per_thread_default_stream, hami_compute_ticket *ticket);
void hami_compute_complete_vendor(hami_compute_ticket *ticket, int launch_ok);

/* Engine entry points with explicit region and slots (the unit tests call these directly).
 *   func_key     CUfunction (kernel launches) or CUgraphExec (graph launches), as an integer;
 *   grid_blocks  gridDimX*gridDimY*gridDimZ (0 for graphs);
 *   stream       the launch's stream as the application passed it;
 *   per_thread_default_stream  1 for the *_ptsz entry points (a NULL stream then means the
 *                per-thread default stream; the events go there too).
 * admit: returns CUDA_SUCCESS (the launch may go ahead; call complete afterwards).  It may
 * sleep (throttling, or briefly while the first measurement of a new kernel is in flight).
 * With region == NULL or dev_slot < 0 nothing is metered (ticket inactive). */
static inline CUresult hami_compute_admit(hami_region *region, int dev_slot, int proc_slot,
                                          uintptr_t func_key, uint64_t grid_blocks,
                                          CUstream stream, int per_thread_default_stream,
                                          hami_compute_ticket *ticket)
{
    return (CUresult)hami_compute_admit_vendor(HAMI_VENDOR_CUDA, region, dev_slot, proc_slot,
                                               func_key, grid_blocks, (void *)stream,
                                               per_thread_default_stream, ticket);
}
/* launch_result is what the driver returned: on failure the tokens are refunded, the sample
 * (if any) is abandoned and nothing is counted. */
static inline void hami_compute_complete(hami_compute_ticket *ticket, CUresult launch_result)
{
    hami_compute_complete_vendor(ticket, launch_result == CUDA_SUCCESS);
}

/* The wrapper-facing form: the device binding of the launch (hami_cuda_current_device()). */
static inline CUresult hami_compute_before_launch(hami_hook_device *dev, uintptr_t func_key,
                                                  uint64_t grid_blocks, CUstream stream,
                                                  int per_thread_default_stream,
                                                  hami_compute_ticket *ticket)
{
    if (dev == NULL) {
        ticket->region = NULL;
        return CUDA_SUCCESS;
    }
    return hami_compute_admit(hami_hook_region(), dev->region_slot, hami_hook_proc_slot(),
                              func_key, grid_blocks, stream, per_thread_default_stream, ticket);
}

static inline void hami_compute_after_launch(hami_compute_ticket *ticket, CUresult launch_result)
{
    if (ticket->region != NULL)
        hami_compute_complete(ticket, launch_result);
}

/* Harvest every completed sample of every device now (non-blocking per sample: unfinished ones
 * stay pending) and add the calling thread's batched counters to the region.  For
 * cuStreamSynchronize / cuCtxSynchronize / cuEventSynchronize hooks, after the real call
 * returned.  Cheap when nothing is pending (one load per device in use). */
void hami_compute_flush(void);

/* Fork child: forget the event pool and pending samples (they belong to the parent's CUDA
 * context; nothing is destroyed through the driver).  compute.c registers this itself with
 * pthread_atfork on first use; calling it again is harmless. */
void hami_compute_fork_child(void);

/* Context teardown (cuda_device.c's cuCtxDestroy_v2 / cuDevicePrimaryCtxReset_v2 /
 * cuDevicePrimaryCtxRelease_v2 hooks), around the real call:
 *     hami_compute_context_teardown_begin();
 *     rc = real(...);
 *     hami_compute_context_teardown_end(destroyed);   // 1: a context (may) have been destroyed
 * Harvests are held off in between (this thread takes every device's harvest try-lock; nested
 * calls on the thread take them once), and a destroyed context bumps the process-wide context
 * generation: sample events created under an older generation are never used again (not even
 * destroyed: they went with their context, whose handle a successor may reuse). */
void hami_compute_context_teardown_begin(void);
void hami_compute_context_teardown_end(int destroyed);

/* Stream capture (launch.c's cuStreamBeginCapture* / cuStreamEndCapture* hooks): a capture may
 * be in progress from begin (called before the real call; undone by an end when the real call
 * failed) to end (called when the real end terminated it).  While any is, a launch asks
 * cuStreamIsCapturing and a launch into a capturing stream goes straight to the driver: no
 * tokens, no sample, no count (the graph launch is metered).  The count never goes below 0. */
void hami_compute_capture_begin(void);
void hami_compute_capture_end(void);

/* ----------------------------------------------------------- introspection and tests -- */

/* The current learned estimate for (dev_slot, func_key, grid_blocks): 0 when not measured yet. */
uint64_t hami_compute_estimate_ns(int dev_slot, uintptr_t func_key, uint64_t grid_blocks);
/* Samples recorded but not yet harvested on dev_slot. */
unsigned hami_compute_pending(int dev_slot);

/* Driver functions the engine uses.  By default they are resolved lazily from the already
 * loaded libcuda.so.1 (dlopen RTLD_NOLOAD + the real dlsym).  Tests install fakes. */
typedef CUresult (*hami_compute_exchange_mode_fn)(CUstreamCaptureMode *mode);
typedef struct hami_compute_driver {
    cuEventCreate_fn event_create;
    cuEventRecord_fn event_record;
    cuEventElapsedTime_fn event_elapsed; /* cuEventElapsedTime_v2, else cuEventElapsedTime */
    cuEventDestroy_v2_fn event_destroy;
    cuCtxGetCurrent_fn ctx_get_current;
    cuStreamIsCapturing_fn stream_is_capturing;           /* optional (NULL: not checked) */
    hami_compute_exchange_mode_fn exchange_capture_mode;  /* optional */
} hami_compute_driver;

/* Install `drv` (copied) instead of the real driver; NULL goes back to lazy resolution.
 * Not thread-safe: call before any launch. */
void hami_compute_use_driver(const hami_compute_driver *drv);

/* Ascend event functions, with the ACL signatures (the runtime's rtEvent* / rtCtxGetCurrent
 * have the same shapes).  Resolved lazily: from libascendcl.so when it is loaded
 * (aclrtCreateEvent, aclrtRecordEvent, aclrtQueryEventStatus, aclrtEventElapsedTime,
 * aclrtDestroyEvent, aclrtGetCurrentContext), else from libruntime.so (rtEventCreate, ...,
 * rtEventQueryStatus, rtCtxGetCurrent) so that a process using only the runtime is measured
 * too.  query_status writes 1 when the event completed (ACL_EVENT_RECORDED_STATUS_COMPLETE and
 * RT_EVENT_RECORDED are both 1), 0 when not yet. */
typedef struct hami_compute_acl_driver {
    int (*create_event)(void **event);
    int (*record_event)(void *event, void *stream);
    int (*query_status)(void *event, int *status);
    int (*elapsed_time)(float *ms, void *start, void *end);
    int (*destroy_event)(void *event);
    int (*get_current_context)(void **context);
} hami_compute_acl_driver;
void hami_compute_use_acl_driver(const hami_compute_acl_driver *drv);
/* Forget everything (cost table, averages, pools) without touching the driver.  Tests only;
 * not thread-safe. */
void hami_compute_reset(void);

/* Constants (documented choices; see compute.c for the reasoning). */
#define HAMI_COMPUTE_TABLE_SIZE 4096u          /* cost entries, power of two */
#define HAMI_COMPUTE_TABLE_PROBE 16u           /* linear-probe length before "table full" */
#define HAMI_COMPUTE_POOL_SIZE 256u            /* sample slots (event pairs) per device */
#define HAMI_COMPUTE_WARMUP_SAMPLES 4u         /* first launches of a key always sampled */
#define HAMI_COMPUTE_SAMPLE_PERIOD 16u         /* then about 1 in 16 ... */
#define HAMI_COMPUTE_UNSTABLE_PERIOD 4u        /* ... or 1 in 4 while the estimate moves */
#define HAMI_COMPUTE_STABLE_PERIOD 64u         /* ... or 1 in 64 once it is established */
#define HAMI_COMPUTE_DEFAULT_COST_NS 50000ull  /* unknown kernel, no device history, floor */
#define HAMI_COMPUTE_HARVEST_INTERVAL_NS 100000ull /* launch-path harvest at most every 100 us */
#define HAMI_COMPUTE_HARVEST_SCAN 8u           /* pending samples looked at per launch harvest */
#define HAMI_COMPUTE_LEARN_WAIT_MAX_NS 100000000ull /* max wait for a new kernel's first sample */
#define HAMI_COMPUTE_COUNT_BATCH 256u          /* launches a thread batches before counting */
#define HAMI_COMPUTE_COUNT_BATCH_NS 1000000ull /* ... or this long (wall) */

#endif
