"""A clustered synthetic vector set: a Gaussian mixture on the unit sphere.

`centres` unit vectors drawn at random; each point is a centre (picked uniformly) plus isotropic
Gaussian noise of expected norm `noise`, then normalised, so a point's cosine to its centre is
about 1/sqrt(1 + noise^2) and two points of one cluster score about 1/(1 + noise^2). Queries are
fresh draws from the same mixture, never points of the base set.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def _normalised(x: F32) -> F32:
    norms: F32 = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / norms).astype(np.float32)


def _draw(rng: np.random.Generator, centres: F32, n: int, noise: float) -> F32:
    dim = centres.shape[1]
    picks = rng.integers(0, len(centres), size=n)
    noise_vecs = rng.standard_normal((n, dim), dtype=np.float32) * (noise / np.sqrt(dim))
    return _normalised(centres[picks] + noise_vecs)


def gaussian_mixture(
    n: int, queries: int, dim: int = 384, centres: int = 1000, noise: float = 1.0, seed: int = 0
) -> tuple[F32, F32]:
    """(base, queries): `n` and `queries` unit vectors from one mixture, base and queries apart."""
    rng = np.random.default_rng(seed)
    means = _normalised(rng.standard_normal((centres, dim), dtype=np.float32))
    return _draw(rng, means, n, noise), _draw(rng, means, queries, noise)
