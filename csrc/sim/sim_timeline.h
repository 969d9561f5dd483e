/*
 * The virtual-time queue behind every simulated stream (CUDA streams in libcuda.so.1, CANN
 * streams in libruntime.so): the stream's tail (when its last submitted work ends) and a ring
 * of the end times of its last SIM_TIMELINE_RING submissions; a submission whose ring slot
 * still holds a future end sleeps until then.  Work is reserved on the engine's device
 * (sim_engine_schedule); nothing runs.  Compiled into hami_sim_common (static, hidden
 * visibility): none of it is exported by the libraries that link it.
 */
#ifndef HAMI_SIM_TIMELINE_H
#define HAMI_SIM_TIMELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SIM_TIMELINE_RING 1024u /* pending submissions per stream before the submitter sleeps */

typedef struct sim_timeline {
    pthread_mutex_t submit_lock; /* serialises submissions; readers use tail_ns atomically */
    _Atomic uint64_t tail_ns;    /* when the last submitted work ends */
    uint32_t ring_next;
    uint64_t ring_end_ns[SIM_TIMELINE_RING]; /* end times of the last 1024 submissions */
} sim_timeline;

void sim_timeline_init(sim_timeline *t); /* on a zeroed timeline (a fresh pool element) */
uint64_t sim_timeline_tail(const sim_timeline *t);
/* Queue `duration_ns` of work on `device` behind the tail; sleeps while the ring is full. */
void sim_timeline_submit(sim_timeline *t, int device, uint64_t duration_ns);
/* max(now, tail): the time an event recorded now completes */
uint64_t sim_timeline_record_time(const sim_timeline *t);
/* Later work waits for `time_ns` (an event's time): raises the tail to it. */
void sim_timeline_wait_for(sim_timeline *t, uint64_t time_ns);
void sim_sleep_until(uint64_t deadline_ns); /* returns at once when the deadline has passed */

#endif
