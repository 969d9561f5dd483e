// hami_core._native: the Python binding of the C core (csrc/include/hami/region.h) and of the
// simulator's engine (csrc/include/hami/sim.h).  The region layout is defined once, in C; Python
// reads and changes it only through these functions.  Calls that can block (open waits for a
// creator to publish the header; join, reclaim and the simulator readers take locks or scan)
// release the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
#include "hami/clock.h"
#include "hami/region.h"
#include "hami/sim.h"
}
#include <stdexcept>

namespace py = pybind11;

namespace {

PyObject *g_region_error = nullptr;           // RegionError(OSError)
PyObject *g_region_not_found = nullptr;       // RegionNotFoundError(RegionError, FileNotFoundError)
PyObject *g_region_format_error = nullptr;    // RegionFormatError(RegionError)

const char *vendor_name(int v)
{
    switch (v) {
    case HAMI_VENDOR_CUDA: return "cuda";
    case HAMI_VENDOR_ASCEND: return "ascend";
    default: return "none";
    }
}

int vendor_id(const py::object &v)
{
    if (py::isinstance<py::int_>(v))
        return v.cast<int>();
    std::string s = py::str(v);
    if (s == "cuda" || s == "nvidia")
        return HAMI_VENDOR_CUDA;
    if (s == "ascend" || s == "npu")
        return HAMI_VENDOR_ASCEND;
    throw py::value_error("unknown vendor '" + s + "': expected 'cuda' or 'ascend'");
}

const char *code_name(int rc)
{
    switch (rc) {
    case HAMI_OK: return "HAMI_OK";
    case HAMI_E_INVALID: return "HAMI_E_INVALID";
    case HAMI_E_OVER_LIMIT: return "HAMI_E_OVER_LIMIT";
    case HAMI_E_LIMIT_INVALID: return "HAMI_E_LIMIT_INVALID";
    case HAMI_E_IO: return "HAMI_E_IO";
    case HAMI_E_FORMAT: return "HAMI_E_FORMAT";
    case HAMI_E_FULL: return "HAMI_E_FULL";
    case HAMI_E_NOT_FOUND: return "HAMI_E_NOT_FOUND";
    default: return "unknown error";
    }
}

[[noreturn]] void raise_region(int rc, int saved_errno, const std::string &msg, bool opening = false)
{
    PyObject *type = g_region_error;
    if (rc == HAMI_E_FORMAT)
        type = g_region_format_error;
    else if (opening && (rc == HAMI_E_NOT_FOUND || (rc == HAMI_E_IO && saved_errno == ENOENT)))
        type = g_region_not_found;
    // str(exception) is the C message alone; .errno is kept for I/O errors.
    py::object exc = py::reinterpret_borrow<py::object>(type)(msg);
    if (rc == HAMI_E_IO && saved_errno)
        exc.attr("errno") = saved_errno;
    exc.attr("code") = rc;
    PyErr_SetObject(type, exc.ptr());
    throw py::error_already_set();
}

py::dict limits_dict(const hami_limits &l)
{
    py::dict d;
    d["memory_limit_bytes"] = l.memory_limit_bytes;
    d["compute_limit_pct"] = l.compute_limit_pct;
    d["memory_invalid"] = bool(l.memory_invalid);
    d["compute_invalid"] = bool(l.compute_invalid);
    d["policy_disable"] = bool(l.policy_disable);
    return d;
}

hami_limits limits_from_dict(const py::dict &d)
{
    hami_limits l;
    std::memset(&l, 0, sizeof l);
    if (d.contains("memory_limit_bytes"))
        l.memory_limit_bytes = d["memory_limit_bytes"].cast<uint64_t>();
    if (d.contains("compute_limit_pct"))
        l.compute_limit_pct = d["compute_limit_pct"].cast<uint32_t>();
    if (d.contains("memory_invalid"))
        l.memory_invalid = d["memory_invalid"].cast<bool>();
    if (d.contains("compute_invalid"))
        l.compute_invalid = d["compute_invalid"].cast<bool>();
    if (d.contains("policy_disable"))
        l.policy_disable = d["policy_disable"].cast<bool>();
    return l;
}

// ---- configuration -------------------------------------------------------------------------

uint64_t parse_size(const std::string &text)
{
    uint64_t v = 0;
    char err[HAMI_ERR_LEN] = {0};
    if (hami_parse_size(text.c_str(), &v, err, sizeof err) != 0)
        throw py::value_error(err[0] ? err : ("'" + text + "': not a size").c_str());
    return v;
}

uint32_t parse_percent(const std::string &text)
{
    uint32_t v = 0;
    char err[HAMI_ERR_LEN] = {0};
    if (hami_parse_percent(text.c_str(), &v, err, sizeof err) != 0)
        throw py::value_error(err[0] ? err : ("'" + text + "': not a percentage").c_str());
    return v;
}

// hami_limits_from_env takes a plain C function pointer; it reads the environment the caller
// passed through a thread-local pointer (set for the duration of one call on this thread).
thread_local const std::unordered_map<std::string, std::string> *tl_env = nullptr;

const char *dict_getenv(const char *name)
{
    if (!tl_env || !name)
        return nullptr;
    auto it = tl_env->find(name);
    return it == tl_env->end() ? nullptr : it->second.c_str();
}

py::dict limits_from_env(const py::object &vendor, int ordinal, const py::object &env)
{
    int v = vendor_id(vendor);
    std::unordered_map<std::string, std::string> copy;
    py::object mapping = env;
    if (env.is_none())
        mapping = py::module_::import("os").attr("environ");
    for (auto item : mapping.attr("items")()) {
        auto kv = item.cast<py::tuple>();
        copy.emplace(py::str(kv[0]).cast<std::string>(), py::str(kv[1]).cast<std::string>());
    }
    hami_limits l;
    std::memset(&l, 0, sizeof l);
    char err[HAMI_ERR_LEN] = {0};
    int rc;
    {
        py::gil_scoped_release nogil;
        tl_env = &copy;
        rc = hami_limits_from_env(v, ordinal, &l, dict_getenv, err, sizeof err);
        tl_env = nullptr;
    }
    py::dict d = limits_dict(l);
    d["error"] = (rc != 0 || err[0]) ? py::object(py::str(err[0] ? err : "invalid value"))
                                     : py::object(py::none());
    return d;
}

std::string default_region_path()
{
    char buf[4096];
    const char *p = hami_region_default_path(buf, sizeof buf);
    return p ? std::string(p) : std::string();
}

// ---- the region ----------------------------------------------------------------------------

class Region {
public:
    Region(const std::string &path, bool create)
    {
        char err[HAMI_ERR_LEN] = {0};
        int rc, saved = 0;
        {
            py::gil_scoped_release nogil;
            errno = 0;
            rc = hami_region_open(path.c_str(), create ? 1 : 0, &r_, err, sizeof err);
            saved = errno;
        }
        if (rc != 0 || !r_) {
            r_ = nullptr;
            std::string msg = err[0] ? err : (path + ": " + code_name(rc));
            raise_region(rc, saved, msg, true);
        }
        path_ = hami_region_path(r_) ? hami_region_path(r_) : path;
    }
    ~Region() { close(); }
    Region(const Region &) = delete;
    Region &operator=(const Region &) = delete;

    void close()
    {
        if (r_) {
            hami_region_close(r_);
            r_ = nullptr;
        }
    }
    const std::string &path() const { return path_; }
    bool closed() const { return r_ == nullptr; }

    hami_region *get() const
    {
        if (!r_)
            raise_region(HAMI_E_INVALID, 0, "region " + path_ + " is closed");
        return r_;
    }

    py::list devices() const
    {
        std::vector<hami_device_info> v(HAMI_MAX_DEVICES);
        int n = hami_region_devices(get(), v.data(), (int)v.size());
        if (n < 0)
            raise_region(n, 0, "reading devices of " + path_ + ": " + code_name(n));
        py::list out;
        for (int i = 0; i < n && i < (int)v.size(); i++) {
            const hami_device_info &d = v[i];
            py::dict e;
            e["slot"] = d.slot;
            e["vendor"] = vendor_name(d.vendor);
            e["vendor_id"] = d.vendor;
            e["uuid"] = std::string(d.uuid, strnlen(d.uuid, sizeof d.uuid));
            e["card_total_bytes"] = d.card_total_bytes;
            e["memory_limit_bytes"] = d.limits.memory_limit_bytes;
            e["compute_limit_pct"] = d.limits.compute_limit_pct;
            e["memory_invalid"] = bool(d.limits.memory_invalid);
            e["compute_invalid"] = bool(d.limits.compute_invalid);
            e["policy_disable"] = bool(d.limits.policy_disable);
            e["used_bytes"] = d.used_bytes;
            e["launches"] = d.launches;
            e["throttled_ns"] = d.throttled_ns;
            e["busy_ns"] = d.measured_busy_ns;
            out.append(e);
        }
        return out;
    }

    py::list processes() const
    {
        std::vector<hami_process_info> v(HAMI_MAX_PROCS);
        int n;
        {
            py::gil_scoped_release nogil;
            n = hami_region_processes(get(), v.data(), (int)v.size());
        }
        if (n < 0)
            raise_region(n, 0, "reading processes of " + path_ + ": " + code_name(n));
        py::list out;
        for (int i = 0; i < n && i < (int)v.size(); i++) {
            const hami_process_info &p = v[i];
            py::dict e, used, busy;
            for (int d = 0; d < HAMI_MAX_DEVICES; d++) {
                if (p.used_bytes[d])
                    used[py::int_(d)] = p.used_bytes[d];
                if (p.busy_ns[d])
                    busy[py::int_(d)] = p.busy_ns[d];
            }
            e["slot"] = p.slot;
            e["pid"] = (long)p.pid;
            e["start_time"] = p.start_time;
            e["heartbeat_ns"] = p.heartbeat_ns;
            e["alive"] = bool(p.alive);
            e["used_bytes"] = used;   // {device slot: bytes}, non-zero entries only
            e["busy_ns"] = busy;      // {device slot: ns}, non-zero entries only
            out.append(e);
        }
        return out;
    }

    py::dict get_limits(int slot) const
    {
        hami_limits l;
        std::memset(&l, 0, sizeof l);
        int rc = hami_region_get_limits(get(), slot, &l);
        if (rc != 0)
            raise_region(rc, 0, "device slot " + std::to_string(slot) + " of " + path_ + ": " + code_name(rc));
        return limits_dict(l);
    }

    // Change live limits: only the given fields change.  Setting a memory (compute) limit also
    // clears the matching "invalid configuration" flag: the operator has given a valid value.
    py::dict set_limits(int slot, py::object memory_limit_bytes, py::object compute_limit_pct,
                        py::object policy_disable)
    {
        hami_limits l;
        std::memset(&l, 0, sizeof l);
        hami_region *r = get();
        int rc = hami_region_get_limits(r, slot, &l);
        if (rc == 0) {
            if (!memory_limit_bytes.is_none()) {
                l.memory_limit_bytes = memory_limit_bytes.cast<uint64_t>();
                l.memory_invalid = 0;
            }
            if (!compute_limit_pct.is_none()) {
                uint32_t pct = compute_limit_pct.cast<uint32_t>();
                if (pct > 100)
                    throw py::value_error("compute_limit_pct " + std::to_string(pct) + ": expected 0..100");
                l.compute_limit_pct = pct;
                l.compute_invalid = 0;
            }
            if (!policy_disable.is_none())
                l.policy_disable = policy_disable.cast<bool>();
            rc = hami_region_set_limits(r, slot, &l);
        }
        if (rc != 0)
            raise_region(rc, 0, "device slot " + std::to_string(slot) + " of " + path_ + ": " + code_name(rc));
        return limits_dict(l);
    }

    py::object find_device(const py::object &vendor, const std::string &uuid) const
    {
        int rc = hami_region_find_device(get(), vendor_id(vendor), uuid.c_str());
        if (rc == HAMI_E_NOT_FOUND)
            return py::none();
        if (rc < 0)
            raise_region(rc, 0, "device " + uuid + " in " + path_ + ": " + code_name(rc));
        return py::int_(rc);
    }

    int device(const py::object &vendor, const std::string &uuid, uint64_t card_total_bytes,
               const py::object &limits)
    {
        hami_limits l;
        std::memset(&l, 0, sizeof l);
        if (!limits.is_none())
            l = limits_from_dict(limits.cast<py::dict>());
        int rc = hami_region_device(get(), vendor_id(vendor), uuid.c_str(), card_total_bytes, &l);
        if (rc < 0)
            raise_region(rc, 0, "device " + uuid + " in " + path_ + ": " + code_name(rc));
        return rc;
    }

    int join()
    {
        int rc;
        hami_region *r = get();
        {
            py::gil_scoped_release nogil;
            rc = hami_region_join(r);
        }
        if (rc < 0)
            raise_region(rc, 0, "joining " + path_ + ": " + code_name(rc));
        return rc;
    }

    void leave(int proc_slot) { hami_region_leave(get(), proc_slot); }

    int reclaim_dead()
    {
        hami_region *r = get();
        py::gil_scoped_release nogil;
        return hami_region_reclaim_dead(r);
    }

    // Reserve/release through the same lock-free path the hooks use (for tests and tools).
    py::tuple charge_memory(int dev_slot, int proc_slot, uint64_t bytes)
    {
        uint64_t in_use = 0, limit = 0;
        int rc = hami_charge_memory(get(), dev_slot, proc_slot, bytes, &in_use, &limit);
        return py::make_tuple(rc, in_use, limit);
    }
    void release_memory(int dev_slot, int proc_slot, uint64_t bytes)
    {
        hami_release_memory(get(), dev_slot, proc_slot, bytes);
    }

private:
    hami_region *r_ = nullptr;
    std::string path_;
};

// ---- attach storm: N processes open + join one region at the same moment -------------------
//
// Forks `n` children that each open the region (creating it if asked), join, record the time,
// and wait until every child has joined; then all leave and exit.  Returns timings in ns of
// CLOCK_MONOTONIC: from before the first fork to the last join, and each child's own
// open+join latency.  Used by `hami-core bench attach` and the 256-process test.
py::dict attach_storm(const std::string &path, int n, bool create, const py::object &vendor,
                      const std::string &uuid)
{
    if (n < 1 || n > HAMI_MAX_PROCS)
        throw py::value_error("n must be 1.." + std::to_string(HAMI_MAX_PROCS));
    int vid = vendor_id(vendor);
    struct Shared {
        std::atomic<int> joined;
        std::atomic<int> failed;
        std::atomic<int> release;
        uint64_t t_begin[HAMI_MAX_PROCS];
        uint64_t t_joined[HAMI_MAX_PROCS];
        int slot[HAMI_MAX_PROCS];
        char err[HAMI_ERR_LEN];
    };
    void *mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
    {
        PyErr_SetFromErrno(PyExc_OSError);
        throw py::error_already_set();
    }
    Shared *sh = new (mem) Shared();
    std::vector<pid_t> pids;
    uint64_t t0, t_last = 0;
    int forked = 0;
    {
        py::gil_scoped_release nogil;
        t0 = hami_now_ns();
        for (int i = 0; i < n; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                sh->t_begin[i] = hami_now_ns();
                hami_region *r = nullptr;
                char err[HAMI_ERR_LEN] = {0};
                int rc = hami_region_open(path.c_str(), create ? 1 : 0, &r, err, sizeof err);
                int slot = -1;
                if (rc == 0 && !uuid.empty()) {
                    hami_limits l;
                    std::memset(&l, 0, sizeof l);
                    rc = hami_region_device(r, vid, uuid.c_str(), 0, &l);
                    rc = rc < 0 ? rc : 0;
                }
                if (rc == 0)
                    slot = hami_region_join(r);
                sh->t_joined[i] = hami_now_ns();
                sh->slot[i] = slot;
                if (rc != 0 || slot < 0) {
                    if (sh->failed.fetch_add(1) == 0)
                        snprintf(sh->err, sizeof sh->err, "%s", err[0] ? err : code_name(rc ? rc : slot));
                }
                sh->joined.fetch_add(1);
                while (!sh->release.load())
                    usleep(1000);
                if (slot >= 0)
                    hami_region_leave(r, slot);
                if (r)
                    hami_region_close(r);
                _exit(0);
            }
            if (pid < 0)
                break;
            pids.push_back(pid);
            forked++;
        }
        while (sh->joined.load() < forked)
            usleep(200);
        for (int i = 0; i < forked; i++)
            if (sh->t_joined[i] > t_last)
                t_last = sh->t_joined[i];
        sh->release.store(1);
        for (pid_t p : pids) {
            int st;
            while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
            }
        }
    }
    py::list lat, slots;
    for (int i = 0; i < forked; i++) {
        lat.append(sh->t_joined[i] - sh->t_begin[i]);
        slots.append(sh->slot[i]);
    }
    py::dict out;
    out["processes"] = forked;
    out["requested"] = n;
    out["failed"] = sh->failed.load();
    out["error"] = sh->err[0] ? py::object(py::str(sh->err)) : py::object(py::none());
    out["all_joined_ns"] = t_last > t0 ? t_last - t0 : 0;
    out["join_latency_ns"] = lat;
    out["slots"] = slots;
    sh->~Shared();
    munmap(mem, sizeof(Shared));
    return out;
}

// ---- the simulator -------------------------------------------------------------------------

#ifdef HAMI_HAVE_SIM
void sim_create(const std::string &path, uint32_t devices, uint64_t memory_bytes, uint32_t sms,
                uint64_t block_ns, uint32_t vendors)
{
    hami_sim_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.devices = devices;
    cfg.memory_bytes = memory_bytes;
    cfg.sms = sms;
    cfg.block_ns = block_ns;
    cfg.vendors = vendors;
    char err[HAMI_ERR_LEN] = {0};
    int rc;
    {
        py::gil_scoped_release nogil;
        rc = hami_sim_create(path.c_str(), &cfg, err, sizeof err);
    }
    if (rc != 0)
        throw py::value_error(err[0] ? err : ("cannot create simulator state " + path).c_str());
}

py::list sim_devices(const std::string &path)
{
    std::vector<hami_sim_device_stats> v(HAMI_SIM_MAX_DEVICES);
    char err[HAMI_ERR_LEN] = {0};
    int n;
    {
        py::gil_scoped_release nogil;
        n = hami_sim_read_devices(path.c_str(), v.data(), (int)v.size(), err, sizeof err);
    }
    if (n < 0)
        throw py::value_error(err[0] ? err : ("cannot read simulator state " + path).c_str());
    py::list out;
    for (int i = 0; i < n && i < (int)v.size(); i++) {
        const auto &d = v[i];
        py::dict e;
        e["index"] = i;
        e["uuid"] = std::string(d.uuid, strnlen(d.uuid, sizeof d.uuid));
        e["name"] = std::string(d.name, strnlen(d.name, sizeof d.name));
        e["total_bytes"] = d.total_bytes;
        e["used_bytes"] = d.used_bytes;
        e["sms"] = d.sms;
        e["busy_ns"] = d.busy_ns;
        e["now_ns"] = d.now_ns;
        out.append(e);
    }
    return out;
}

py::list sim_processes(const std::string &path)
{
    std::vector<hami_sim_process_stats> v((size_t)HAMI_SIM_MAX_PROCS * HAMI_SIM_MAX_DEVICES);
    char err[HAMI_ERR_LEN] = {0};
    int n;
    {
        py::gil_scoped_release nogil;
        n = hami_sim_read_processes(path.c_str(), v.data(), (int)v.size(), err, sizeof err);
    }
    if (n < 0)
        throw py::value_error(err[0] ? err : ("cannot read simulator state " + path).c_str());
    py::list out;
    for (int i = 0; i < n && i < (int)v.size(); i++) {
        const auto &p = v[i];
        py::dict e;
        e["pid"] = (long)p.pid;
        e["device"] = p.device;
        e["used_bytes"] = p.used_bytes;
        e["busy_ns"] = p.busy_ns;
        e["now_ns"] = p.now_ns;
        out.append(e);
    }
    return out;
}

#else
[[noreturn]] void no_sim()
{
    throw std::runtime_error("hami_core._native was built without the simulator engine (csrc/sim)");
}
void sim_create(const std::string &, uint32_t, uint64_t, uint32_t, uint64_t, uint32_t) { no_sim(); }
py::list sim_devices(const std::string &) { no_sim(); }
py::list sim_processes(const std::string &) { no_sim(); }
#endif

} // namespace

PYBIND11_MODULE(_native, m)
{
    m.doc() = "hami-core native binding: the shared region (region.h) and the simulator engine (sim.h)";

    g_region_error = PyErr_NewExceptionWithDoc(
        "hami_core._native.RegionError",
        "A region file could not be opened, read or changed; str() is the C core's message.",
        PyExc_OSError, nullptr);
    m.attr("RegionError") = py::handle(g_region_error);
    {
        py::tuple bases = py::make_tuple(py::handle(g_region_error), py::handle(PyExc_FileNotFoundError));
        g_region_not_found = PyErr_NewExceptionWithDoc("hami_core._native.RegionNotFoundError",
                                                       "No region file at the path.", bases.ptr(), nullptr);
    }
    m.attr("RegionNotFoundError") = py::handle(g_region_not_found);
    g_region_format_error = PyErr_NewExceptionWithDoc(
        "hami_core._native.RegionFormatError",
        "The file is not a hami-core region of this layout version, or it is corrupt.", g_region_error, nullptr);
    m.attr("RegionFormatError") = py::handle(g_region_format_error);

    m.attr("REGION_VERSION") = HAMI_REGION_VERSION;
    m.attr("MAX_DEVICES") = HAMI_MAX_DEVICES;
    m.attr("MAX_PROCS") = HAMI_MAX_PROCS;
    m.attr("SIM_MAX_DEVICES") = HAMI_SIM_MAX_DEVICES;
    m.attr("VENDOR_CUDA") = (int)HAMI_VENDOR_CUDA;
    m.attr("VENDOR_ASCEND") = (int)HAMI_VENDOR_ASCEND;
    m.attr("E_OVER_LIMIT") = (int)HAMI_E_OVER_LIMIT;
    m.attr("E_LIMIT_INVALID") = (int)HAMI_E_LIMIT_INVALID;

    m.def("parse_size", &parse_size, py::arg("text"),
          "Parse a size (bytes; k/m/g/t and Ki..Ti 1024-based, kB..TB 1000-based). ValueError with the C message.");
    m.def("parse_percent", &parse_percent, py::arg("text"),
          "Parse a percentage 0..100 (optional '%'). ValueError with the C message.");
    m.def("limits_from_env", &limits_from_env, py::arg("vendor"), py::arg("ordinal"),
          py::arg("env") = py::none(),
          "Limits of device `ordinal` of `vendor` ('cuda'/'ascend') from the mapping `env` (default os.environ), "
          "with the library's precedence and aliases. Returns a dict; 'error' is the C message or None.");
    m.def("default_region_path", &default_region_path,
          "The region path the library uses by default: $HAMI_REGION, else $TMPDIR/hami-<uid>.region.");

    py::class_<Region>(m, "Region")
        .def(py::init<const std::string &, bool>(), py::arg("path"), py::arg("create") = false)
        .def_static(
            "open",
            [](const std::string &path, bool create) { return new Region(path, create); },
            py::arg("path"), py::arg("create") = false, py::return_value_policy::take_ownership)
        .def_property_readonly("path", &Region::path)
        .def_property_readonly("closed", &Region::closed)
        .def("close", &Region::close)
        .def("__enter__", [](Region &r) -> Region & { return r; }, py::return_value_policy::reference)
        .def("__exit__", [](Region &r, py::args) { r.close(); })
        .def("devices", &Region::devices, "Device entries: list of dicts (slot, vendor, uuid, limits, usage, counters).")
        .def("processes", &Region::processes, "Process slots: list of dicts (pid, start_time, alive, used_bytes by device slot).")
        .def("get_limits", &Region::get_limits, py::arg("slot"))
        .def("set_limits", &Region::set_limits, py::arg("slot"), py::arg("memory_limit_bytes") = py::none(),
             py::arg("compute_limit_pct") = py::none(), py::arg("policy_disable") = py::none(),
             "Change the live limits of device `slot`; fields left None keep their value.")
        .def("find_device", &Region::find_device, py::arg("vendor"), py::arg("uuid"))
        .def("device", &Region::device, py::arg("vendor"), py::arg("uuid"), py::arg("card_total_bytes") = 0,
             py::arg("limits") = py::none(), "Find or create the device entry (hami_region_device); returns its slot.")
        .def("join", &Region::join, "Attach the calling process; returns its process slot.")
        .def("leave", &Region::leave, py::arg("proc_slot"))
        .def("reclaim_dead", &Region::reclaim_dead, "Reclaim the slots of dead processes; returns how many.")
        .def("charge_memory", &Region::charge_memory, py::arg("dev_slot"), py::arg("proc_slot"), py::arg("bytes"),
             "Reserve bytes as the hooks do; returns (rc, in_use_bytes, limit_bytes), rc 0 on success.")
        .def("release_memory", &Region::release_memory, py::arg("dev_slot"), py::arg("proc_slot"), py::arg("bytes"))
        .def("__repr__", [](const Region &r) { return "<hami_core._native.Region " + r.path() + ">"; });

    m.def("attach_storm", &attach_storm, py::arg("path"), py::arg("n"), py::arg("create") = true,
          py::arg("vendor") = "cuda", py::arg("uuid") = "",
          "Fork n processes that open+join the region at once; returns timings (ns) and slots.");

    m.def("sim_create", &sim_create, py::arg("path"), py::arg("devices") = 2,
          py::arg("memory_bytes") = 16ull << 30, py::arg("sms") = 108, py::arg("block_ns") = 10000,
          py::arg("vendors") = 1, "Create a fresh simulator state file (vendors: bit 1 cuda, bit 2 ascend).");
    m.def("sim_devices", &sim_devices, py::arg("path"), "Ground truth per simulated device.");
    m.def("sim_processes", &sim_processes, py::arg("path"), "Ground truth per (process, device).");
}
