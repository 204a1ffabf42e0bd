"""The force layout's inner loop, compiled with numba: kg.layout prepares the arrays and packs the result.

Nodes come grouped by connected component (component c is the index range bounds[c]:bounds[c + 1]),
and each component is relaxed on its own: its close pairs are found in a grid of its own, its far
field pooled over its own cells, and its gravity pulls towards its own centre. So a component's
shape depends on nothing outside it, and no pair of nodes of two components is ever looked at.

Every sum runs in a fixed order and numba is not allowed to reorder floating-point arithmetic
(no fastmath), so the same input gives the same bits on every machine. Compiled once and cached
beside this file (numba's cache=True): later processes load the machine code in milliseconds.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
from numba import njit



def _compiled(function):  # noqa: ANN001, ANN202 - a numba dispatcher of `function`
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:  # no folder numba may keep machine code in (a read-only install, no home): compiled in each process
        return njit(nogil=True)(function)


@_compiled
def component_labels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Each node's component as the smallest node index in it (union-find over the links src-dst)."""
    parent = np.arange(n)
    for e in range(len(src)):
        a, b = src[e], dst[e]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    for i in range(n):  # roots are smallest first, so one pass in order resolves every chain
        parent[i] = parent[parent[i]]
    return parent


@_compiled
def relax(
    x: np.ndarray,
    y: np.ndarray,
    bounds: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    start_temperature: np.ndarray,
    iterations: int,
    spacing: float,
    cutoff: float,
    neighbours_wanted: float,
    nearest_reach: float,
    gravity: float,
    far_field_min: int,
    grid: int,
    far_field_every: int,
) -> None:
    """Move x, y (in place) through `iterations` steps of Fruchterman-Reingold: repulsion k^2/d
    between nodes closer than a component's reach, the pooled repulsion of a component's distant
    grid cells, attraction w d^2/k along the links src-dst, a pull towards each component's centre,
    each step's move capped by a temperature that cools from start_temperature (per component)."""
    n = len(x)
    ncomp = len(bounds) - 1
    k2 = spacing * spacing
    fx = np.zeros(n)
    fy = np.zeros(n)
    far_x = np.zeros(n)
    far_y = np.zeros(n)
    reach = np.full(ncomp, cutoff * spacing)
    cell_start = np.zeros(12 * n + 64, dtype=np.int64)  # a component of m nodes has at most (2 sqrt(m) + 2)^2 cells
    order = np.zeros(n, dtype=np.int64)
    node_cell = np.zeros(n, dtype=np.int64)
    cells = grid * grid
    mass = np.zeros(cells)
    centre_x = np.zeros(cells)
    centre_y = np.zeros(cells)
    occupied = np.zeros(cells, dtype=np.int64)
    for step in range(iterations):
        fx[:] = 0.0
        fy[:] = 0.0
        for c in range(ncomp):
            s, e = bounds[c], bounds[c + 1]
            m = e - s
            if m < 2:
                continue
            low_x, high_x, low_y, high_y = x[s], x[s], y[s], y[s]
            for i in range(s + 1, e):
                low_x, high_x = min(low_x, x[i]), max(high_x, x[i])
                low_y, high_y = min(low_y, y[i]), max(high_y, y[i])
            # Close pairs: a grid of cells at least `reach` wide (and at most about 4 m of them),
            # each cell paired with itself and four of its neighbours, so every pair is met once.
            r = reach[c]
            cell = max(r, max(high_x - low_x, high_y - low_y) / math.sqrt(4.0 * m))
            nx = int((high_x - low_x) / cell) + 1
            ny = int((high_y - low_y) / cell) + 1
            cell_start[: nx * ny + 1] = 0
            for i in range(s, e):
                k = min(int((x[i] - low_x) / cell), nx - 1) * ny + min(int((y[i] - low_y) / cell), ny - 1)
                node_cell[i] = k
                cell_start[k + 1] += 1
            for k in range(nx * ny):
                cell_start[k + 1] += cell_start[k]
            for i in range(s, e):  # counting sort: each cell's nodes ascending
                k = node_cell[i]
                order[cell_start[k]] = i
                cell_start[k] += 1
            for k in range(nx * ny - 1, -1, -1):
                cell_start[k + 1] = cell_start[k]
            cell_start[0] = 0
            r2 = r * r
            pairs = 0
            for cx in range(nx):
                for cy in range(ny):
                    k = cx * ny + cy
                    for p in range(cell_start[k], cell_start[k + 1]):
                        i = order[p]
                        xi, yi = x[i], y[i]
                        for other in range(5):
                            if other == 0:
                                first, last = p + 1, cell_start[k + 1]
                            else:
                                ox = cx + (0 if other == 1 else 1)
                                oy = cy + (1 if other == 1 else other - 3)
                                if ox >= nx or oy < 0 or oy >= ny:
                                    continue
                                o = ox * ny + oy
                                first, last = cell_start[o], cell_start[o + 1]
                            for q in range(first, last):
                                j = order[q]
                                dx = x[j] - xi
                                dy = y[j] - yi
                                d2 = dx * dx + dy * dy
                                if d2 < r2:
                                    pairs += 1
                                    f = -k2 / max(d2, 1e-4)
                                    fx[i] += f * dx
                                    fy[i] += f * dy
                                    fx[j] -= f * dx
                                    fy[j] -= f * dy
            # A dense component's reach shrinks until it has about neighbours_wanted pairs a node
            # (the far field still spreads the whole); a sparse one keeps the full cutoff.
            per_node = 2.0 * pairs / m
            if per_node > neighbours_wanted or r < cutoff * spacing:
                reach[c] = min(cutoff * spacing, max(nearest_reach * spacing, r * math.sqrt(neighbours_wanted / max(per_node, 1e-9))))
            if m > far_field_min and step % far_field_every == 0:
                # Every other occupied cell of a grid x grid over the component, pooled at its centre of
                # mass: without it a dense component contracts into a blob.
                size = max(max(high_x - low_x, high_y - low_y), 1e-6) / grid
                mass[:] = 0.0
                centre_x[:] = 0.0
                centre_y[:] = 0.0
                for i in range(s, e):
                    k = min(int((x[i] - low_x) / size), grid - 1) * grid + min(int((y[i] - low_y) / size), grid - 1)
                    node_cell[i] = k
                    mass[k] += 1.0
                    centre_x[k] += x[i]
                    centre_y[k] += y[i]
                used = 0
                for k in range(cells):
                    if mass[k] > 0.0:
                        centre_x[k] /= mass[k]
                        centre_y[k] /= mass[k]
                        occupied[used] = k
                        used += 1
                floor = (size / 2) * (size / 2)
                for i in range(s, e):
                    push_x = 0.0
                    push_y = 0.0
                    for u in range(used):
                        k = occupied[u]
                        if k == node_cell[i]:
                            continue
                        dx = x[i] - centre_x[k]
                        dy = y[i] - centre_y[k]
                        strength = mass[k] * k2 / max(dx * dx + dy * dy, floor)
                        push_x += dx * strength
                        push_y += dy * strength
                    far_x[i] = push_x
                    far_y[i] = push_y
            if m > far_field_min:
                for i in range(s, e):
                    fx[i] += far_x[i]
                    fy[i] += far_y[i]
        for edge in range(len(src)):
            a, b = src[edge], dst[edge]
            dx = x[b] - x[a]
            dy = y[b] - y[a]
            f = weight[edge] * math.sqrt(dx * dx + dy * dy) / spacing
            fx[a] += f * dx
            fy[a] += f * dy
            fx[b] -= f * dx
            fy[b] -= f * dy
        for c in range(ncomp):
            s, e = bounds[c], bounds[c + 1]
            m = e - s
            if m < 2:
                continue
            mean_x = 0.0
            mean_y = 0.0
            for i in range(s, e):
                mean_x += x[i]
                mean_y += y[i]
            mean_x /= m
            mean_y /= m
            temperature = start_temperature[c] * (1.0 - step / iterations) + 0.05 * spacing
            for i in range(s, e):
                gx = fx[i] - gravity * (x[i] - mean_x)
                gy = fy[i] - gravity * (y[i] - mean_y)
                length = max(math.sqrt(gx * gx + gy * gy), 1e-9)
                scale = min(length, temperature) / length
                x[i] += gx * scale
                y[i] += gy * scale


@functools.cache
def ready() -> None:
    """Load both functions' machine code now (compiling it, the first time after an install or an
    upgrade), so that the first layout does not wait for it: kg.layout.prepare calls it in the
    worker that stands by for a layout. Once per process."""
    # Numba's first load initialises its array maths, which imports scipy.linalg (0.2 s), when it
    # is installed, only to learn whether BLAS is there; nothing here uses BLAS.
    blocked = "scipy.linalg" not in sys.modules and "scipy.linalg.cython_blas" not in sys.modules
    if blocked:
        sys.modules["scipy.linalg.cython_blas"] = None  # type: ignore[assignment]
    try:
        one = np.zeros(1, dtype=np.int64)
        component_labels(2, one, one + 1)
        x, y = np.zeros(2), np.ones(2)
        relax(x, y, np.array([0, 2]), one, one + 1, np.ones(1), np.ones(1), 1, 1.0, 1.5, 32.0, 0.3, 0.02, 50, 12, 4)
    finally:
        if blocked and sys.modules.get("scipy.linalg.cython_blas", 0) is None:
            del sys.modules["scipy.linalg.cython_blas"]
