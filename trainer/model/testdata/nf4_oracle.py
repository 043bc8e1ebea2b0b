#!/usr/bin/env python3
"""Independent NF4 oracle for trainer/model/nf4_test.cc.

Computes QLoRA's NF4 quantisation with numpy alone (nearest level by argmin
of the distance, not the C++ code's midpoint search), and writes the inputs
and the expected packed bytes, scales and dequantised values to
nf4_expected.json. The codebook is rebuilt from its definition (the QLoRA
paper's quantiles of N(0, 1), as bitsandbytes' create_normal_map computes
them) and checked against bitsandbytes' published table, which quantises;
the test checks the C++ table against both.

Regenerate: .venv/bin/python trainer/model/testdata/nf4_oracle.py
"""
import json
import os

import numpy as np

BLOCK = 64
PUBLISHED = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
    0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
]


def levels():
    """bitsandbytes' create_normal_map(offset=0.9677083, use_extra_value=True),
    with the standard library's normal quantile function instead of scipy's."""
    from statistics import NormalDist
    ppf = NormalDist().inv_cdf
    offset = 0.9677083
    v1 = [ppf(p) for p in np.linspace(offset, 0.5, 9)[:-1]]
    v3 = [-ppf(p) for p in np.linspace(offset, 0.5, 8)[:-1]]
    v = np.sort(np.array(v1 + [0.0] + v3))
    v = v / v.max()
    lv = v.astype(np.float32)
    # The definition must reproduce the table bitsandbytes ships (to 1e-6:
    # the table was computed with scipy's quantile function).
    assert np.allclose(lv, np.array(PUBLISHED, dtype=np.float32), rtol=0, atol=1e-6), lv
    return lv


def quantize(values, lv):
    flat = values.reshape(-1).astype(np.float32)
    n = flat.size
    blocks = -(-n // BLOCK)
    padded = np.zeros(blocks * BLOCK, dtype=np.float32)
    padded[:n] = flat
    b = padded.reshape(blocks, BLOCK)
    absmax = np.abs(b).max(axis=1).astype(np.float32)
    divisor = np.where(absmax > 0, absmax, np.float32(1)).astype(np.float32)
    scaled = (b / divisor[:, None]).astype(np.float32)
    codes = np.abs(scaled[..., None] - lv[None, None, :]).argmin(axis=-1).astype(np.uint8).reshape(-1)
    packed = (codes[0::2] << 4) | codes[1::2]
    deq = (lv[codes].reshape(blocks, BLOCK) * absmax[:, None]).astype(np.float32).reshape(-1)[:n]
    return packed, absmax, deq


def main():
    derived = levels()
    lv = np.array(PUBLISHED, dtype=np.float32)  # quantise with the shipped table
    rng = np.random.RandomState(19)
    cases = []
    shapes = [[3, 50], [7], [2, 64], [5, 33]]
    for i, shape in enumerate(shapes):
        values = (rng.standard_normal(shape) * (0.02 * (i + 1))).astype(np.float32)
        if shape == [2, 64]:
            values[0, :] = 0.0  # an all-zero block
        packed, absmax, deq = quantize(values, lv)
        cases.append({
            "shape": shape,
            "values": [float(x) for x in values.reshape(-1)],
            "packed": [int(x) for x in packed],
            "absmax": [float(x) for x in absmax],
            "dequantized": [float(x) for x in deq],
        })
    out = {"levels": [float(x) for x in lv], "derived_levels": [float(x) for x in derived], "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nf4_expected.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
