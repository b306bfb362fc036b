#!/usr/bin/python3
"""The OpenBLAS side of bench/gemmpeer: times float32 matrix products with
torch (torch.mm / torch.bmm) or numpy (numpy.matmul), whichever --peer names,
on the shapes given as JSON, and prints one JSON object on stdout.

Run by `go run ./bench/gemmpeer` (bench/gemm_peer.sh), which sets the
thread count (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS) before this starts.

Each shape: {"name", "m", "n", "k", "batch", "trans_b"}: C[m, n] = A[m, k] B[k, n]
(B stored [n, k] and used transposed when trans_b), batch independent
products. Times each call for about --seconds after --warmup calls.
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time


def loaded_blas():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "blas" in p or "lapack" in p or "mkl" in p:
                libs.add(p)
    return sorted(libs)


def openblas_info():
    for p in loaded_blas():
        if "libopenblas" in p:
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_get_corename.restype = ctypes.c_char_p
                return {"config": lib.openblas_get_config().decode(),
                        "corename": lib.openblas_get_corename().decode(),
                        "threads": lib.openblas_get_num_threads()}
            except (OSError, AttributeError):
                pass
    return None


def make_torch(threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def product(s):
        b, m, n, k = s["batch"], s["m"], s["n"], s["k"]
        a = torch.randn(b, m, k)
        w = torch.randn(b, n, k) if s["trans_b"] else torch.randn(b, k, n)
        bm = w.transpose(1, 2) if s["trans_b"] else w
        if b == 1:
            a2, b2, out = a[0], bm[0], torch.empty(m, n)
            return lambda: torch.mm(a2, b2, out=out)
        out = torch.empty(b, m, n)
        return lambda: torch.bmm(a, bm, out=out)
    return product, {"peer": "torch " + torch.__version__, "threads": torch.get_num_threads()}


def make_numpy(threads):
    import numpy as np
    rng = np.random.default_rng(0)

    def product(s):
        b, m, n, k = s["batch"], s["m"], s["n"], s["k"]
        a = rng.standard_normal((b, m, k), dtype=np.float32)
        w = rng.standard_normal((b, n, k) if s["trans_b"] else (b, k, n), dtype=np.float32)
        bm = w.transpose(0, 2, 1) if s["trans_b"] else w
        if b == 1:
            a2, b2, out = a[0], bm[0], np.empty((m, n), dtype=np.float32)
            return lambda: np.matmul(a2, b2, out=out)
        out = np.empty((b, m, n), dtype=np.float32)
        return lambda: np.matmul(a, bm, out=out)
    return product, {"peer": "numpy " + np.__version__, "threads": threads}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", required=True, help="JSON list of shapes")
    ap.add_argument("--peer", default="auto", choices=["auto", "torch", "numpy"])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    peer = args.peer
    if peer == "auto":
        try:
            import torch  # noqa: F401
            peer = "torch"
        except ImportError:
            peer = "numpy"
    try:
        product, info = (make_torch if peer == "torch" else make_numpy)(args.threads)
    except ImportError as e:
        sys.exit(f"peer.py: {peer} is not installed ({e}): apt-get install python3-numpy libopenblas0-pthread (or python3-torch)")
    rows = []
    for s in json.loads(args.shapes):
        fn = product(s)
        for _ in range(args.warmup):
            fn()
        ts = []
        end = time.perf_counter() + args.seconds
        while True:
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            ts.append(t1 - t0)
            if t1 >= end and len(ts) >= 3:
                break
        rows.append({"name": s["name"], "median_s": statistics.median(ts), "min_s": min(ts), "calls": len(ts)})
    info["blas_libs"] = loaded_blas()
    info["openblas"] = openblas_info()
    info["env"] = {k: os.environ.get(k) for k in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY",
                                                  "OPENBLAS_CORETYPE", "LD_LIBRARY_PATH"]}
    json.dump({"info": info, "rows": rows}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
