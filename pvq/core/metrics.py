"""Error metrics: SNR in decibels and kurtosis (paper §1–2).

``SNR = 10·log10(E[w²] / E[(w - F(w))²])`` with ``F`` the quantizer or the pruning
operator. Kurtosis is Pearson's ``E[(x-μ)⁴] / E[(x-μ)²]²`` (Gaussian = 3); the *excess*
kurtosis (Gaussian = 0) is what ``scipy.stats.kurtosis`` returns by default.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kurtosis", "snr_db", "snr_db_from_mse"]


def snr_db_from_mse(signal_power, mse):
    """``10·log10(signal_power / mse)``; ``+inf`` where ``mse == 0``.

    Parameters
    ----------
    signal_power : float or array_like
        ``E[w²]`` (must be positive).
    mse : float or array_like
        ``E[(w - F(w))²]`` (non-negative).
    """
    p = np.asarray(signal_power, dtype=np.float64)
    e = np.asarray(mse, dtype=np.float64)
    if np.any(p <= 0):
        raise ValueError("signal power must be positive to define an SNR")
    if np.any(e < 0):
        raise ValueError("mean squared error cannot be negative")
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(p / e)
    return float(out) if out.ndim == 0 else out


def snr_db(w, w_hat) -> float:
    """Empirical SNR in dB of an approximation ``w_hat`` of ``w``.

    ``10·log10(Σ w² / Σ (w - w_hat)²)``; ``+inf`` for an exact approximation.
    """
    w = np.asarray(w, dtype=np.float64)
    w_hat = np.asarray(w_hat, dtype=np.float64)
    if w.shape != w_hat.shape:
        raise ValueError(f"shapes differ: {w.shape} vs {w_hat.shape}")
    return snr_db_from_mse(np.mean(w**2), np.mean((w - w_hat) ** 2))


def kurtosis(x, *, excess: bool = False) -> float:
    """Sample kurtosis ``m4 / m2²`` (Pearson, Gaussian = 3) or ``m4 / m2² - 3`` if ``excess``.

    Uses the biased central moments, as ``scipy.stats.kurtosis(..., bias=True)``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("kurtosis needs a non-empty array of finite values")
    d = x - x.mean()
    m2 = np.mean(d**2)
    if m2 == 0:
        raise ValueError("kurtosis is undefined for a constant array")
    k = float(np.mean(d**4) / m2**2)
    return k - 3.0 if excess else k
