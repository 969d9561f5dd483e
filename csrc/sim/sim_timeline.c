/*
 * Virtual-time stream queues of the simulated vendor libraries (sim_timeline.h): submission
 * through the stream's ring into the engine's device schedule, the stream tail, event record
 * times and stream-waits-event, and sleeping until a virtual end time.
 */
#include "sim_timeline.h"

#include "engine.h"
#include "hami/clock.h"

void sim_timeline_init(sim_timeline *t) { pthread_mutex_init(&t->submit_lock, NULL); }

uint64_t sim_timeline_tail(const sim_timeline *t)
{
    return atomic_load_explicit(&t->tail_ns, memory_order_acquire);
}

void sim_timeline_submit(sim_timeline *t, int device, uint64_t duration_ns)
{
    pthread_mutex_lock(&t->submit_lock);
    uint64_t now = hami_now_ns();
    uint64_t *slot = &t->ring_end_ns[t->ring_next];
    if (*slot > now) { /* 1024 submissions pending: wait for the oldest one to finish */
        hami_sleep_until_ns(*slot);
        now = hami_now_ns();
    }
    uint64_t end = sim_engine_schedule(device, sim_timeline_tail(t), duration_ns, now);
    *slot = end;
    t->ring_next = (t->ring_next + 1) & (SIM_TIMELINE_RING - 1);
    atomic_store_explicit(&t->tail_ns, end, memory_order_release);
    pthread_mutex_unlock(&t->submit_lock);
}

uint64_t sim_timeline_record_time(const sim_timeline *t)
{
    uint64_t now = hami_now_ns(), tail = sim_timeline_tail(t);
    return tail > now ? tail : now;
}

void sim_timeline_wait_for(sim_timeline *t, uint64_t time_ns)
{
    pthread_mutex_lock(&t->submit_lock);
    if (time_ns > sim_timeline_tail(t))
        atomic_store_explicit(&t->tail_ns, time_ns, memory_order_release);
    pthread_mutex_unlock(&t->submit_lock);
}

void sim_sleep_until(uint64_t deadline_ns)
{
    if (deadline_ns > hami_now_ns())
        hami_sleep_until_ns(deadline_ns);
}
