"""A small CUDA driver API client (cffi, ABI mode).

It dlopens whatever ``libcuda.so.1`` the process finds: the simulated driver under
``hami-core sim``, the real driver on a GPU machine, and, when the process runs under
``hami-core run``, the calls go through the interception library like any program's.  It covers
what tests, benchmarks and the demo need: devices, contexts, memory, modules and launches,
streams and events.

Every failing call raises :class:`CudaError` carrying the driver's code and its name from
``cuGetErrorName`` (``CUDA_ERROR_OUT_OF_MEMORY`` ...).

Kernels: the simulator loads any module image and runs the kernel named ``hami_sim_spin`` for
the number of nanoseconds in its first parameter.  :data:`SPIN_PTX` is a PTX implementation of
the same kernel (a ``%globaltimer`` loop) so that :meth:`Driver.spin_module` also works on a real
GPU (the driver JIT-compiles PTX).

Example::

    from hami_core.cuda import Driver
    drv = Driver()                      # cuInit(0)
    ctx = drv.primary_context(0)        # retained and made current
    ptr = drv.mem_alloc(1 << 20)
    free, total = drv.mem_get_info()
    spin = drv.spin_module().function("hami_sim_spin")
    s = drv.stream()
    drv.launch(spin, (1, 1, 1), (1, 1, 1), [1_000_000], stream=s)   # 1 ms
    s.synchronize()
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

import cffi

__all__ = [
    "CudaError",
    "Driver",
    "Context",
    "Module",
    "Function",
    "Stream",
    "Event",
    "SPIN_PTX",
    "CUDA_SUCCESS",
    "CUDA_ERROR_OUT_OF_MEMORY",
    "CUDA_ERROR_NOT_READY",
]

CUDA_SUCCESS = 0
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_OUT_OF_MEMORY = 2
CUDA_ERROR_NOT_READY = 600

_CDEF = """
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct { char bytes[16]; } CUuuid;

CUresult cuGetErrorName(CUresult error, const char **pStr);
CUresult cuGetErrorString(CUresult error, const char **pStr);
CUresult cuInit(unsigned int flags);
CUresult cuDriverGetVersion(int *version);
CUresult cuDeviceGetCount(int *count);
CUresult cuDeviceGet(CUdevice *device, int ordinal);
CUresult cuDeviceGetName(char *name, int len, CUdevice dev);
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev);
CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev);
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev);
CUresult cuDeviceGetAttribute(int *pi, int attrib, CUdevice dev);
CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev);
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev);
CUresult cuDevicePrimaryCtxRelease(CUdevice dev);
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxDestroy_v2(CUcontext ctx);
CUresult cuCtxSetCurrent(CUcontext ctx);
CUresult cuCtxGetCurrent(CUcontext *pctx);
CUresult cuCtxGetDevice(CUdevice *device);
CUresult cuCtxSynchronize(void);
CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize);
CUresult cuMemFree_v2(CUdeviceptr dptr);
CUresult cuMemGetInfo_v2(size_t *free, size_t *total);
CUresult cuModuleLoadData(CUmodule *module, const void *image);
CUresult cuModuleUnload(CUmodule hmod);
CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name);
CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                        unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                        unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                        void **kernelParams, void **extra);
CUresult cuStreamCreate(CUstream *phStream, unsigned int flags);
CUresult cuStreamDestroy_v2(CUstream hStream);
CUresult cuStreamSynchronize(CUstream hStream);
CUresult cuStreamQuery(CUstream hStream);
CUresult cuEventCreate(CUevent *phEvent, unsigned int flags);
CUresult cuEventDestroy_v2(CUevent hEvent);
CUresult cuEventRecord(CUevent hEvent, CUstream hStream);
CUresult cuEventQuery(CUevent hEvent);
CUresult cuEventSynchronize(CUevent hEvent);
CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd);
CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd);
"""

# A spin kernel for real GPUs: loops on %globaltimer until `ns` nanoseconds have passed.  Same
# name and parameter as the simulator's duration rule (DESIGN 3.5), so one launch does the same
# on both.  Any thread of any block spins; launch it with one block of one thread.
SPIN_PTX = r"""
.version 6.0
.target sm_50
.address_size 64

.visible .entry hami_sim_spin(
    .param .u64 hami_sim_spin_param_0
)
{
    .reg .pred  %p<2>;
    .reg .b64   %rd<6>;

    ld.param.u64    %rd1, [hami_sim_spin_param_0];
    mov.u64         %rd2, %globaltimer;
$L_spin:
    mov.u64         %rd3, %globaltimer;
    sub.s64         %rd4, %rd3, %rd2;
    setp.lt.u64     %p1, %rd4, %rd1;
    @%p1 bra        $L_spin;
    ret;
}
"""

_ffi = cffi.FFI()
_ffi.cdef(_CDEF)


class CudaError(RuntimeError):
    """A CUDA driver call failed.  ``code`` is the CUresult, ``name`` its cuGetErrorName."""

    def __init__(self, code: int, name: str, call: str, description: str = "") -> None:
        self.code = code
        self.name = name
        self.call = call
        self.description = description
        msg = f"{call}: {name} ({code})"
        if description:
            msg += f": {description}"
        super().__init__(msg)


@dataclass
class Function:
    """A kernel of a loaded module."""

    handle: object
    name: str


class Module:
    """A loaded module; unloaded by :meth:`unload`."""

    def __init__(self, driver: "Driver", handle: object) -> None:
        self._drv = driver
        self.handle = handle

    def function(self, name: str) -> Function:
        out = _ffi.new("CUfunction *")
        self._drv._check("cuModuleGetFunction", self._drv._lib.cuModuleGetFunction(out, self.handle, name.encode()))
        return Function(out[0], name)

    def unload(self) -> None:
        if self.handle is not None:
            self._drv._check("cuModuleUnload", self._drv._lib.cuModuleUnload(self.handle))
            self.handle = None


class Stream:
    """A CUDA stream (``Stream.default`` handle is NULL, the legacy default stream)."""

    def __init__(self, driver: "Driver", handle: object) -> None:
        self._drv = driver
        self.handle = handle

    def synchronize(self) -> None:
        self._drv._check("cuStreamSynchronize", self._drv._lib.cuStreamSynchronize(self.handle))

    def query(self) -> bool:
        """True when all work on the stream is complete, False while some is pending."""
        rc = self._drv._lib.cuStreamQuery(self.handle)
        if rc == CUDA_ERROR_NOT_READY:
            return False
        self._drv._check("cuStreamQuery", rc)
        return True

    def destroy(self) -> None:
        if self.handle != _ffi.NULL and self.handle is not None:
            self._drv._check("cuStreamDestroy", self._drv._call("cuStreamDestroy_v2", self.handle))
            self.handle = None


class Event:
    def __init__(self, driver: "Driver", handle: object) -> None:
        self._drv = driver
        self.handle = handle

    def record(self, stream: Optional[Stream] = None) -> None:
        h = stream.handle if stream is not None else _ffi.NULL
        self._drv._check("cuEventRecord", self._drv._lib.cuEventRecord(self.handle, h))

    def query(self) -> bool:
        rc = self._drv._lib.cuEventQuery(self.handle)
        if rc == CUDA_ERROR_NOT_READY:
            return False
        self._drv._check("cuEventQuery", rc)
        return True

    def synchronize(self) -> None:
        self._drv._check("cuEventSynchronize", self._drv._lib.cuEventSynchronize(self.handle))

    def elapsed_ms(self, end: "Event") -> float:
        """Milliseconds from this event to ``end`` (both recorded and complete)."""
        out = _ffi.new("float *")
        self._drv._check("cuEventElapsedTime", self._drv._call("cuEventElapsedTime", out, self.handle, end.handle))
        return float(out[0])

    def destroy(self) -> None:
        if self.handle is not None:
            self._drv._check("cuEventDestroy", self._drv._call("cuEventDestroy_v2", self.handle))
            self.handle = None


class Context:
    def __init__(self, driver: "Driver", handle: object, device: int, primary: bool) -> None:
        self._drv = driver
        self.handle = handle
        self.device = device
        self.primary = primary

    def make_current(self) -> None:
        self._drv._check("cuCtxSetCurrent", self._drv._lib.cuCtxSetCurrent(self.handle))

    def synchronize(self) -> None:
        self.make_current()
        self._drv._check("cuCtxSynchronize", self._drv._lib.cuCtxSynchronize())

    def release(self) -> None:
        if self.handle is None:
            return
        if self.primary:
            self._drv._check("cuDevicePrimaryCtxRelease",
                             self._drv._call("cuDevicePrimaryCtxRelease_v2", self.device))
        else:
            self._drv._check("cuCtxDestroy", self._drv._call("cuCtxDestroy_v2", self.handle))
        self.handle = None


# Fallback names for entry points that changed names across driver versions.
_ALIASES = {
    "cuStreamDestroy_v2": ("cuStreamDestroy_v2", "cuStreamDestroy"),
    "cuEventDestroy_v2": ("cuEventDestroy_v2", "cuEventDestroy"),
    "cuDevicePrimaryCtxRelease_v2": ("cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"),
    "cuCtxDestroy_v2": ("cuCtxDestroy_v2",),
    "cuEventElapsedTime": ("cuEventElapsedTime", "cuEventElapsedTime_v2"),
    "cuDeviceGetUuid": ("cuDeviceGetUuid_v2", "cuDeviceGetUuid"),
}


class Driver:
    """The CUDA driver API of this process.

    ``Driver(library="libcuda.so.1", init=True)`` dlopens the library (the dynamic loader's
    search: ``LD_LIBRARY_PATH`` first, which is how ``hami-core sim`` substitutes its simulator)
    and calls ``cuInit(0)``.
    """

    def __init__(self, library: str = "libcuda.so.1", init: bool = True) -> None:
        try:
            self._lib = _ffi.dlopen(library)
        except OSError as e:
            raise CudaError(-1, "LIBRARY_NOT_FOUND", f"dlopen({library})",
                            f"{e}; run under `hami-core sim` to use simulated devices") from None
        self.library = library
        self._resolved: dict = {}
        if init:
            self._check("cuInit", self._lib.cuInit(0))

    # -- plumbing ------------------------------------------------------------------------------
    def _fn(self, name: str):
        fn = self._resolved.get(name)
        if fn is None:
            for candidate in _ALIASES.get(name, (name,)):
                try:
                    fn = getattr(self._lib, candidate)
                    break
                except (AttributeError, NotImplementedError):
                    continue
            if fn is None:
                raise CudaError(-1, "SYMBOL_NOT_FOUND", name, f"{self.library} does not export it")
            self._resolved[name] = fn
        return fn

    def _call(self, name: str, *args):
        return self._fn(name)(*args)

    def error_name(self, code: int) -> str:
        p = _ffi.new("const char **")
        try:
            if self._lib.cuGetErrorName(code, p) == 0 and p[0] != _ffi.NULL:
                return _ffi.string(p[0]).decode(errors="replace")
        except Exception:
            pass
        return f"CUresult {code}"

    def error_string(self, code: int) -> str:
        p = _ffi.new("const char **")
        try:
            if self._lib.cuGetErrorString(code, p) == 0 and p[0] != _ffi.NULL:
                return _ffi.string(p[0]).decode(errors="replace")
        except Exception:
            pass
        return ""

    def _check(self, call: str, rc: int) -> None:
        if rc != CUDA_SUCCESS:
            raise CudaError(rc, self.error_name(rc), call, self.error_string(rc))

    # -- driver and devices ---------------------------------------------------------------------
    def version(self) -> int:
        out = _ffi.new("int *")
        self._check("cuDriverGetVersion", self._lib.cuDriverGetVersion(out))
        return int(out[0])

    def device_count(self) -> int:
        out = _ffi.new("int *")
        self._check("cuDeviceGetCount", self._lib.cuDeviceGetCount(out))
        return int(out[0])

    def device(self, ordinal: int) -> int:
        out = _ffi.new("CUdevice *")
        self._check("cuDeviceGet", self._lib.cuDeviceGet(out, ordinal))
        return int(out[0])

    def device_name(self, ordinal: int) -> str:
        buf = _ffi.new("char[256]")
        self._check("cuDeviceGetName", self._lib.cuDeviceGetName(buf, 256, self.device(ordinal)))
        return _ffi.string(buf).decode(errors="replace")

    def device_uuid(self, ordinal: int) -> str:
        """The device UUID in nvidia-smi form: ``GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``."""
        out = _ffi.new("CUuuid *")
        self._check("cuDeviceGetUuid", self._call("cuDeviceGetUuid", out, self.device(ordinal)))
        h = bytes(_ffi.buffer(out.bytes, 16)).hex()
        return f"GPU-{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def device_total_mem(self, ordinal: int) -> int:
        out = _ffi.new("size_t *")
        self._check("cuDeviceTotalMem", self._lib.cuDeviceTotalMem_v2(out, self.device(ordinal)))
        return int(out[0])

    def device_attribute(self, attrib: int, ordinal: int) -> int:
        out = _ffi.new("int *")
        self._check("cuDeviceGetAttribute", self._lib.cuDeviceGetAttribute(out, attrib, self.device(ordinal)))
        return int(out[0])

    # -- contexts -------------------------------------------------------------------------------
    def primary_context(self, ordinal: int = 0, make_current: bool = True) -> Context:
        dev = self.device(ordinal)
        out = _ffi.new("CUcontext *")
        self._check("cuDevicePrimaryCtxRetain", self._lib.cuDevicePrimaryCtxRetain(out, dev))
        ctx = Context(self, out[0], dev, primary=True)
        if make_current:
            ctx.make_current()
        return ctx

    def create_context(self, ordinal: int = 0, flags: int = 0) -> Context:
        """cuCtxCreate (the new context is current)."""
        dev = self.device(ordinal)
        out = _ffi.new("CUcontext *")
        self._check("cuCtxCreate", self._lib.cuCtxCreate_v2(out, flags, dev))
        return Context(self, out[0], dev, primary=False)

    def synchronize(self) -> None:
        self._check("cuCtxSynchronize", self._lib.cuCtxSynchronize())

    # -- memory ---------------------------------------------------------------------------------
    def mem_alloc(self, nbytes: int) -> int:
        out = _ffi.new("CUdeviceptr *")
        self._check("cuMemAlloc", self._lib.cuMemAlloc_v2(out, nbytes))
        return int(out[0])

    def try_mem_alloc(self, nbytes: int) -> Tuple[int, int]:
        """cuMemAlloc without raising: returns (CUresult, pointer or 0)."""
        out = _ffi.new("CUdeviceptr *")
        rc = self._lib.cuMemAlloc_v2(out, nbytes)
        return int(rc), int(out[0]) if rc == CUDA_SUCCESS else 0

    def mem_free(self, ptr: int) -> None:
        self._check("cuMemFree", self._lib.cuMemFree_v2(ptr))

    def mem_get_info(self) -> Tuple[int, int]:
        """(free, total) bytes of the current context's device, as the process sees them."""
        free = _ffi.new("size_t *")
        total = _ffi.new("size_t *")
        self._check("cuMemGetInfo", self._lib.cuMemGetInfo_v2(free, total))
        return int(free[0]), int(total[0])

    # -- modules and launches -------------------------------------------------------------------
    def load_module(self, image: bytes | str) -> Module:
        """cuModuleLoadData on any image: a cubin/fatbin (bytes) or PTX text (NUL added)."""
        if isinstance(image, str):
            image = image.encode()
        if not image.endswith(b"\0"):
            image = image + b"\0"
        buf = _ffi.from_buffer(image)
        out = _ffi.new("CUmodule *")
        self._check("cuModuleLoadData", self._lib.cuModuleLoadData(out, buf))
        return Module(self, out[0])

    def spin_module(self, image: Optional[bytes | str] = None) -> Module:
        """A module with the ``hami_sim_spin`` kernel: :data:`SPIN_PTX` unless ``image`` is given."""
        return self.load_module(image if image is not None else SPIN_PTX)

    def launch(
        self,
        func: Function,
        grid: Sequence[int] = (1, 1, 1),
        block: Sequence[int] = (1, 1, 1),
        params: Iterable[int] = (),
        stream: Optional[Stream] = None,
        shared_mem: int = 0,
    ) -> None:
        """cuLaunchKernel with every parameter passed as a 64-bit unsigned integer."""
        g = tuple(grid) + (1,) * (3 - len(grid))
        b = tuple(block) + (1,) * (3 - len(block))
        values = list(params)
        n = len(values)
        if n:
            vals = _ffi.new("unsigned long long[]", values)
            ptrs = _ffi.new("void *[]", n)
            for i in range(n):
                ptrs[i] = vals + i
        else:
            ptrs = _ffi.NULL
        h = stream.handle if stream is not None else _ffi.NULL
        self._check(
            "cuLaunchKernel",
            self._lib.cuLaunchKernel(func.handle, g[0], g[1], g[2], b[0], b[1], b[2], shared_mem, h, ptrs, _ffi.NULL),
        )

    def spin(self, func: Function, ns: int, stream: Optional[Stream] = None) -> None:
        """Launch ``hami_sim_spin`` for ``ns`` nanoseconds of device time."""
        self.launch(func, (1, 1, 1), (1, 1, 1), [int(ns)], stream=stream)

    # -- streams and events ---------------------------------------------------------------------
    def stream(self, flags: int = 0) -> Stream:
        out = _ffi.new("CUstream *")
        self._check("cuStreamCreate", self._lib.cuStreamCreate(out, flags))
        return Stream(self, out[0])

    def default_stream(self) -> Stream:
        return Stream(self, _ffi.NULL)

    def event(self, flags: int = 0) -> Event:
        out = _ffi.new("CUevent *")
        self._check("cuEventCreate", self._lib.cuEventCreate(out, flags))
        return Event(self, out[0])
