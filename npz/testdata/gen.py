#!/usr/bin/env python3
"""Generate the golden NumPy archives used by the npz package tests.

Run from this directory with NumPy installed:

    python3 gen.py

It writes golden_compressed.npz (np.savez_compressed, deflated members),
golden_stored.npz (uncompressed members, npy format versions 1.0, 2.0 and
3.0) and golden.json, which maps each archive to its arrays' dtype,
shape, fortran_order flag and values converted to float32 in C order.
Array values are deterministic (fixed seed); zip timestamps are not.
"""
import json
import zipfile

import numpy as np

rng = np.random.default_rng(20240611)


def arrays_compressed():
    return {
        # Names in the style of the official JAX ViT checkpoints.
        "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel":
            rng.standard_normal((4, 2, 3)).astype("<f4"),
        "Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/bias":
            rng.standard_normal((2, 3)).astype("<f4"),
        "f8": np.array([0.1, -2.5, 1e30, 3.0], dtype="<f8"),
        "f2": np.array([[0.5, -1.0], [65504.0, 2.0 ** -24]], dtype="<f2"),
        "u1": np.array([0, 1, 128, 255], dtype="|u1"),
        "i1": np.array([-128, -1, 0, 127], dtype="|i1"),
        "i2": np.array([-32768, 12345], dtype="<i2"),
        "u2": np.array([65535, 7], dtype="<u2"),
        "i4": np.array([[-7, 0], [2 ** 31 - 1, -(2 ** 31)]], dtype="<i4"),
        "u4": np.array([4000000000, 3], dtype="<u4"),
        "i8": np.array([-(2 ** 40), 123456789, 7], dtype="<i8"),
        "u8": np.array([2 ** 63, 1], dtype="<u8"),
        "b1": np.array([True, False, True], dtype="|b1"),
        "big_endian": np.array([1.5, -3.25, 100.0], dtype=">f4"),
        "fortran_2d": np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)),
        "fortran_3d": np.asfortranarray(
            rng.standard_normal((2, 3, 4)).astype("<f8")),
        "scalar": np.array(3.5, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
    }


def arrays_stored():
    return {
        "v1": (np.arange(12, dtype="<f4").reshape(3, 4) / 8, (1, 0)),
        "v2": (np.array([[1, 2], [3, 4]], dtype="<i8"), (2, 0)),
        "v3": (np.asfortranarray(
            np.arange(6, dtype="<f2").reshape(3, 2)), (3, 0)),
        "embedding/kernel": (rng.standard_normal((2, 2, 3, 1)).astype("<f4"),
                             (1, 0)),
    }


def describe(arr):
    return {
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "fortran_order": bool(arr.flags.f_contiguous and not arr.flags.c_contiguous),
        "values": [float(v) for v in arr.astype(np.float32).ravel(order="C")],
    }


def main():
    expected = {}

    comp = arrays_compressed()
    np.savez_compressed("golden_compressed.npz", **comp)
    expected["golden_compressed.npz"] = {k: describe(v) for k, v in comp.items()}

    stored = arrays_stored()
    with zipfile.ZipFile("golden_stored.npz", "w",
                         compression=zipfile.ZIP_STORED) as zf:
        for name, (arr, version) in stored.items():
            with zf.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, arr, version=version)
    expected["golden_stored.npz"] = {k: describe(v) for k, (v, _) in stored.items()}

    with open("golden.json", "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
