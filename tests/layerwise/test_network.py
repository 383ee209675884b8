"""Whole-network sequential compression and its fidelity measures, on tiny networks (chapter 9)."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import rel_entr
from torch import nn

from pvq.layerwise import fidelity, network
from pvq.layerwise import network_methods as methods
from pvq.layerwise.calibration import HELD_OUT_PHOTOS, IMAGE_NAMES, paragraphs


def _mlp(seed=0):
    torch.manual_seed(seed)
    return (
        nn.Sequential(
            nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)
        )
        .double()
        .eval()
    )


def _spd(n, seed):
    x = np.random.default_rng(seed).normal(size=(3 * n, n))
    x[:, 1] += 0.8 * x[:, 0]  # correlated inputs: GPTQ differs from rounding
    return (x.T @ x)[None]


def _damped(h):
    n = h.shape[-1]
    return h[0] + methods.DAMP * np.mean(np.diag(h[0])) * np.eye(n)


@pytest.mark.parametrize("seed", range(4))
def test_gptq_is_the_nearest_plane_choice_column_by_column(seed):
    """Brute force: each column's level is the one that, with the later weights re-solved by least squares
    (the earlier ones fixed), leaves the smallest error; GPTQ's Cholesky updates must reproduce that."""
    n, scale, lo, hi = 5, 0.3, -4, 3
    h = _spd(n, seed)
    w = np.random.default_rng(10 + seed).normal(size=(1, 2, n))
    got = methods._gptq(w, h, lambda v: scale * np.clip(np.rint(v / scale), lo, hi))
    hd = _damped(h)
    for r in range(2):
        fixed = []
        for _i in range(n):
            best = None
            for z in range(lo, hi + 1):
                head = np.array([*fixed, scale * z])
                k = len(head)
                d = w[0, r].copy()
                d[:k] -= head
                rest = np.zeros(n - k)
                if n - k:  # the later weights are free: their error d_r minimises dᵀHd, d_r = -H_rr⁻¹ H_rk d_k
                    rest = -np.linalg.solve(hd[k:, k:], hd[k:, :k] @ d[:k])
                dd = np.concatenate([d[:k], rest])
                cost = dd @ hd @ dd
                if best is None or cost < best[0] - 1e-12:
                    best = (cost, scale * z)
            fixed.append(best[1])
        np.testing.assert_allclose(got[0, r], fixed, atol=1e-12)


def test_the_inverse_factor_and_the_blocks_change_nothing(monkeypatch):
    for n, groups in ((5, 3), (70, 1)):  # the batched and the triangular-solve paths
        h = np.stack([_spd(n, s)[0] for s in range(groups)])
        u = methods._damped_inverse_factor(h)
        for g in range(groups):
            hd = h[g] + methods.DAMP * np.mean(np.diag(h[g])) * np.eye(n)
            np.testing.assert_allclose(u[g], np.linalg.cholesky(np.linalg.inv(hd)).T, rtol=1e-7, atol=1e-10)
    w = np.random.default_rng(8).normal(size=(2, 3, 7))
    h = np.stack([_spd(7, 9)[0], _spd(7, 10)[0]])
    whole = methods.solve_layer("gptq", w, h, 3), methods.solve_layer("sparsegpt", w, h, 6)
    monkeypatch.setattr(methods, "BLOCK", 2)  # lazy updates across blocks of 2 columns
    np.testing.assert_allclose(methods.solve_layer("gptq", w, h, 3), whole[0], atol=1e-12)
    np.testing.assert_allclose(methods.solve_layer("sparsegpt", w, h, 6), whole[1], atol=1e-12)


def test_sparsegpt_with_the_kept_weights_last_is_the_least_squares_refit():
    n = 6
    h = _spd(n, 3)
    w = np.random.default_rng(4).normal(size=(1, 3, n))
    keep = np.zeros_like(w, dtype=bool)
    keep[..., 3:] = True  # pruned columns first: every kept weight is re-solved after them
    got = methods._sparsegpt(w, h, keep)
    refit = methods._refit(w, h, keep)
    np.testing.assert_allclose(got, refit, atol=1e-10)
    # the refit itself against least squares on X restricted to the kept columns (H = XᵀX + damping)
    x = np.linalg.cholesky(_damped(h)).T  # XᵀX = damped H
    for r in range(3):
        sol, *_ = np.linalg.lstsq(x[:, 3:], x @ w[0, r], rcond=None)
        np.testing.assert_allclose(refit[0, r, 3:], sol, atol=1e-10)
        assert np.all(refit[0, r, :3] == 0)


def test_sparsegpt_mask_and_magnitude_keep_the_paired_count_of_the_tensor():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(2, 3, 8))
    h = np.stack([_spd(8, 6)[0], _spd(8, 7)[0]])
    for method in ("magnitude", "magnitude_ls", "sparsegpt"):
        got = methods.solve_layer(method, w, h, 4)
        assert np.count_nonzero(got) == math.floor(w.size * 4 / 16)
    two_four = methods.solve_layer("two_four_sparsegpt", w, h, 16)
    assert all(
        np.count_nonzero(two_four[g, r, i : i + 4]) == 2 for g, r, i in itertools.product(range(2), range(3), (0, 4))
    )


def _sequential_by_hand(model, x, method, n_bits, methods_by_layer=None):
    """The scheme written out: each compressed layer solved on the inputs of the already-compressed network."""
    model = _copy(model)
    linears = [m for m in model if isinstance(m, nn.Linear)][1:-1]
    for k, layer in enumerate(linears):
        if methods_by_layer is not None:
            method = methods_by_layer[k]
        with torch.no_grad():
            inp = x
            for m in model:
                if m is layer:
                    break
                inp = m(inp)
        h = (inp.T @ inp).numpy()[None]
        w = layer.weight.detach().numpy().astype(np.float16).astype(np.float64)[None]
        layer.weight.data = torch.from_numpy(methods.solve_layer(method, w, h, n_bits)[0])
    return model


def _copy(model):
    other = _mlp()
    other.load_state_dict(model.state_dict())
    return other


@pytest.mark.parametrize("method", ["gptq", "sparsegpt", "magnitude_ls", "rtn"])
def test_compress_network_is_the_sequential_scheme(method):
    model, x = _mlp(1), torch.randn(64, 3, generator=torch.Generator().manual_seed(2)).double()
    expected = _sequential_by_hand(model, x, method, 3)
    got = _copy(model)
    info = network.compress_network("tiny", got, (x,), None, method, 3)
    assert info["layers"] == ["2", "4"] and info["kept"] == ["0", "6"]  # the first and last layers are kept
    for a, b in zip(got.parameters(), expected.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    if methods.METHODS[method].needs_data:
        assert all(np.isfinite(v) for v in info["layer_snr_db"].values())


def test_a_layer_method_changes_the_method_of_the_layers_it_names():
    """Magnitude pruning on layer "4", SparseGPT on layer "2" (and GPTQ / rounding): the sequential scheme with each
    layer's own method, different from either method alone."""
    from pvq.layerwise.network_study import LAYER_GROUPS, _variant

    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(2)).double()
    for seed, bits, (base, other) in ((1, 3, ("sparsegpt", "magnitude")), (2, 4, ("gptq", "rtn"))):
        model = _mlp(seed)
        expected = _sequential_by_hand(model, x, None, bits, methods_by_layer=[base, other])
        got = _copy(model)
        info = network.compress_network("tiny", got, (x,), None, base, bits,
                                        layer_method=lambda n, b=base, o=other: o if n == "4" else b)  # fmt: skip
        for a, b in zip(got.parameters(), expected.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        assert all(np.isfinite(v) for v in info["layer_snr_db"].values())  # the data-free layer measured too
        for alone in (base, other):
            single = _sequential_by_hand(model, x, alone, bits)
            assert not all(torch.equal(a, b) for a, b in zip(got.parameters(), single.parameters(), strict=True))
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        network.compress_network("tiny", _copy(model), (x,), None, "gptq", 3, layer_method=lambda n: "nope")
    # a job's method names the swap: MiniLM's feed-forward output layers, not the attention's output layers
    base, pick = _variant("gptq+rtn@ffn_out")
    assert base == "gptq" and pick("encoder.layer.3.output.dense") == "rtn"
    assert (
        pick("encoder.layer.3.attention.output.dense") == "gptq"
        and pick("encoder.layer.3.intermediate.dense") == "gptq"
    )
    assert _variant("rtn") == ("rtn", None) and set(LAYER_GROUPS) == {"ffn_out"}
    for bad in ("gptq+rtn@attention", "gptq+nope@ffn_out"):
        with pytest.raises(ValueError, match="not a method or a method"):
            _variant(bad)


def test_minilms_feed_forward_output_layers_hold_weights_the_8_bit_scale_clips():
    from pvq.layerwise.network_study import group_clipping

    t = group_clipping("minilm_l6", 8)
    assert list(t.layer) == [f"encoder.layer.{i}.output.dense" for i in range(6)]
    assert (
        (t.clip_at < t.max_abs_weight).all() and (t.clipped_share < 1e-4).all() and (t.clipped_energy_share > 0).all()
    )
    assert t.max_abs_weight.max() > 3 * t.loc[t.max_abs_weight.idxmax(), "clip_at"]  # clipped to under a third
    assert (group_clipping("minilm_l6", 4).clip_at < t.clip_at).all()  # fewer levels: an earlier clip


def test_the_largest_layer_is_minilms_feed_forward_output():
    from pvq.layerwise.network_study import largest_layer_inputs

    assert largest_layer_inputs(["minilm_l6"]) == 1536  # its intermediate size, the input of output.dense
    assert largest_layer_inputs(["mobilenet_v2"]) == 1280  # the classifier; a 3x3 depthwise layer has 9


def _convnet():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 6 * 6, 5),
    ).eval()  # fmt: skip


def _with_stats(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return model


def test_no_compression_reproduces_the_network_exactly_and_16_bits_agree():
    x = torch.randn(16, 3, 6, 6, generator=torch.Generator().manual_seed(3))
    held = torch.randn(40, 3, 6, 6, generator=torch.Generator().manual_seed(4))
    ref_model = _with_stats(_convnet())
    with torch.no_grad():
        ref = ref_model(held).double().numpy()
    for method, bits in (("magnitude", 16), ("sparsegpt", 16), ("magnitude_ls", 16), ("rtn", 16), ("gptq", 16)):
        model = _convnet()
        model.load_state_dict(ref_model.state_dict())
        network.compress_network("tiny", model, (x,), None, method, bits)
        with torch.no_grad():
            items = fidelity.vision_items(ref, model(held).double().numpy())
        assert items["agree"].mean() == 1.0, method
        snr = 10 * np.log10(items["signal"].sum() / max(items["error"].sum(), 1e-300))
        assert snr > 60, (method, snr)  # FP16 rounding of the weights only (INT16: finer still)
        if method == "magnitude":  # keeps every weight: only the FP16 rounding and an unchanged batch norm
            for name, m in model.named_modules():
                if isinstance(m, nn.BatchNorm2d):
                    ref_bn = dict(ref_model.named_modules())[name]
                    torch.testing.assert_close(m.running_mean, ref_bn.running_mean, rtol=1e-3, atol=1e-3)
    # the layer grams of a depthwise convolution: one 9x9 matrix per channel, as im2col rows give it
    conv = _convnet()[3]
    inp = torch.randn(2, 8, 6, 6)
    h = network.layer_gram(conv, inp)
    cols = nn.functional.unfold(inp, 3, padding=1).view(2, 8, 9, -1)
    for c in range(8):
        xc = cols[:, c].transpose(1, 2).reshape(-1, 9).double()
        np.testing.assert_allclose(h[c], (xc.T @ xc).numpy(), rtol=1e-5, atol=1e-5)  # summed in float32


def test_batch_norm_is_re_estimated_against_the_original():
    x = torch.randn(32, 3, 6, 6, generator=torch.Generator().manual_seed(5))
    model = _with_stats(_convnet())
    before = {n: (m.running_mean.clone(), m.running_var.clone()) for n, m in model.named_modules()
              if isinstance(m, nn.BatchNorm2d)}  # fmt: skip
    ref = network.batch_norm_reference("tiny", model, (x,))
    network.compress_network("tiny", model, (x,), None, "magnitude", 4, bn_reference=ref)
    after = network._bn_stats(model, lambda: model(x))
    for name, (mean, var) in before.items():
        m = dict(model.named_modules())[name]
        # the shift of the running mean is the shift of the input's batch mean, measured in network order
        torch.testing.assert_close(m.running_mean - mean, after[name][0] - ref[name][0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(m.running_var / var, after[name][1] / ref[name][1], rtol=1e-4, atol=1e-5)


def test_fidelity_measures():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 5))
    same = fidelity.vision_items(z, z)
    assert np.all(same["error"] == 0) and np.all(same["agree"] == 1) and np.allclose(same["kl"], 0)
    zh = z + rng.normal(scale=0.5, size=z.shape)
    got = fidelity.vision_items(z, zh)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    q = np.exp(zh) / np.exp(zh).sum(1, keepdims=True)
    np.testing.assert_allclose(got["kl"], rel_entr(p, q).sum(1), rtol=1e-10)
    np.testing.assert_array_equal(got["agree"], z.argmax(1) == zh.argmax(1))
    # the cluster bootstrap draws whole photos: every resample is made of complete groups, in blocks
    groups = np.repeat([5, 7, 9], 4)
    idx = fidelity.bootstrap_indices(groups, 200, seed=1)
    blocks = idx.reshape(200, 3, 4)
    assert all(sorted(b.tolist()) in ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]) for b in blocks.reshape(-1, 4))
    assert len({tuple(r) for r in idx}) == 27  # 3 draws of 3 photos: every ordered choice appears
    with pytest.raises(ValueError, match="one size"):
        fidelity.bootstrap_indices([0, 0, 1], 10)
    # its spread is that of the photos' means: SD of the bootstrap mean = SD(group means, ddof 0) / sqrt(G)
    g = np.repeat(np.arange(16), 8)
    values = rng.normal(size=16)[g] + 0.1 * rng.normal(size=g.size)
    means = values[fidelity.bootstrap_indices(g, 20000, seed=2)].mean(1)
    by_group = values.reshape(16, 8).mean(1)
    assert means.std() == pytest.approx(by_group.std() / np.sqrt(16), rel=0.03)
    # one item per group: plain resampling of the items
    free = fidelity.bootstrap_indices(np.arange(10), 500, seed=3)
    assert free.shape == (500, 10) and len(np.unique(free)) == 10 and any(len(set(r)) < 10 for r in free)
    # retrieval: the same embeddings agree everywhere; cosine 1
    e = rng.normal(size=(8, 4))
    t = fidelity.text_items(e, e)
    assert np.allclose(t["cosine"], 1) and t["agree"].mean() == 1
    t2 = fidelity.text_items(e, e[::-1])
    assert t2["agree"].mean() < 1


def test_held_out_data_is_never_calibration_data():
    assert not set(HELD_OUT_PHOTOS) & {p for p in IMAGE_NAMES if p not in HELD_OUT_PHOTOS}
    assert len(HELD_OUT_PHOTOS) == 16 and len(set(HELD_OUT_PHOTOS)) == 16
    held, calib = set(paragraphs("held_out")), set(paragraphs("calibration"))
    assert held and calib and not held & calib
    assert held | calib == set(paragraphs("all")) and len(held) >= 64


def test_the_study_caches_each_job_and_resumes(tmp_path, monkeypatch):
    from pvq.layerwise import network_study

    calls = []

    def fake(model_name, method, n_bits, *, n_calibration, n_eval, seed=0):
        calls.append((model_name, method, n_bits))
        rng = np.random.default_rng(len(calls))
        items = {"signal": rng.uniform(1, 2, 8).tolist(), "error": rng.uniform(0, 1, 8).tolist(),
                 "agree": [1.0] * 8, "kl": [0.0] * 8}  # fmt: skip
        return {"model": model_name, "method": method, "n_bits": n_bits, "bits": 4.0, "sparsity": 0.0,
                "network_bits": 4.0, "groups": [0] * 4 + [1] * 4, "items": items, "layer_snr_db": {},
                "seconds": 0.0}  # fmt: skip

    def fake_floor(model_name, n_calibration, n_eval, seed):
        calls.append((model_name, "floor", None))
        return {"model": model_name, "items": {"signal": [1.0] * 8, "error": [0.1] * 8, "agree": [1.0] * 8,
                                               "kl": [0.0] * 8}, "groups": [0] * 4 + [1] * 4}  # fmt: skip

    monkeypatch.setattr(network_study, "evaluate_point", fake)
    monkeypatch.setattr(network_study, "_floor", fake_floor)
    points = network_study.network_points([3, 4], ["rtn", "magnitude"], [])
    kw = {"n_calibration": 8, "crops_per_photo": 2, "n_paragraphs": 8, "cache_dir": tmp_path}
    first = network_study.run_network_study(["mobilenet_v2"], points, **kw)
    assert [(r["method"], r["n_bits"]) for r in first] == points and len(calls) == 5  # the noise floor among the jobs
    assert len(list(tmp_path.glob("*.json"))) == 5
    again = network_study.run_network_study(["mobilenet_v2"], points, **kw)
    assert again == first and len(calls) == 5  # all read back
    floor = network_study.noise_floor("mobilenet_v2", n_calibration=8, n_eval=2, cache_dir=tmp_path)
    assert floor["items"]["error"] == [0.1] * 8 and len(calls) == 5  # read from the study's cache
    victim = sorted(tmp_path.glob("*.json"))[0]
    victim.write_text("{truncated")
    network_study.run_network_study(["mobilenet_v2"], points, **kw)
    assert len(calls) == 6  # only the corrupt entry is computed again
    # extra runs (the diagnosis's) share the study's jobs and cache, and are not among its results
    extra = network_study.diagnosis_runs("mobilenet_v2", 4, 8)
    assert [r[1] for r in extra] == ["rtn", "gptq", "gptq+rtn@ffn_out", "rtn+gptq@ffn_out", "gptq"]
    assert [r[3] for r in extra] == [8, 8, 8, 8, 32]
    with_extra = network_study.run_network_study(["mobilenet_v2"], points, **kw, extra_runs=extra)
    # four new jobs: the diagnosis's round-to-nearest at 4 bits is the study's own point, read back
    assert [(r["method"], r["n_bits"]) for r in with_extra] == points and len(calls) == 6 + 4
    diagnosis = network_study.gptq_diagnosis("mobilenet_v2", 4, n_calibration=8, n_paragraphs=8, crops_per_photo=2,
                                             n_boot=200, cache_dir=tmp_path)  # fmt: skip
    assert len(calls) == 10 and list(diagnosis.n_calibration) == [8, 8, 8, 8, 32]  # all read from the cache
    assert diagnosis.logit_snr_db.notna().all() and diagnosis.group_layer_snr_db.isna().all()
    verdicts = network_study.network_verdicts(first, n_boot=200)
    assert list(verdicts.n_bits) == [3, 4] and set(verdicts.winner) <= {"quantization", "pruning", "tie"}
    with pytest.raises(ValueError, match="no runnable network"):
        network_study.run_network_study(["resnet50"], points, **kw)


def test_the_wallpaper_photos_load_reduced_and_a_missing_one_says_how_to_get_it(tmp_path, monkeypatch):
    from PIL import Image

    from pvq.layerwise.calibration import PHOTOS_ENV, WALLPAPER_DIR, WALLPAPER_PHOTOS, load_photo

    for name in WALLPAPER_PHOTOS:  # installed by tools/system-deps.sh (mate-backgrounds)
        img = load_photo(name)
        with Image.open(WALLPAPER_DIR / f"{name.removeprefix('mate/')}.jpg") as im:
            w, h = im.size
        k = max(1, min(w, h) // 512)
        assert img.shape == (3, -(-h // k), -(-w // k)) and img.dtype == torch.uint8, name
        assert 512 <= min(img.shape[1:]) < 1024
    monkeypatch.setenv(PHOTOS_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"Dune.jpg not found: install Debian's mate-backgrounds .*PVQ_PHOTOS"):
        load_photo("mate/Dune")
    Image.new("RGB", (1200, 900), (10, 200, 30)).save(tmp_path / "Dune.jpg")
    img = load_photo("mate/Dune")  # $PVQ_PHOTOS is read; 900 // 512 = 1: not reduced
    assert img.shape == (3, 900, 1200) and abs(int(img[1].float().mean()) - 200) <= 2
