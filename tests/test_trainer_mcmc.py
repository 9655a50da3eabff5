"""The MCMC densification strategy: the copy formula against quadrature, the budget, relocation,
and training under it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import blender_gs_addon.trainer  # noqa: F401  (first: sets the OpenMP wait policy before torch loads)
from blender_gs_addon.trainer.optim import Adam
from blender_gs_addon.trainer.schedule import Schedule
from blender_gs_addon.trainer.strategy_mcmc import MCMCConfig, MCMCStrategy, split_opacity_and_scale
from blender_gs_addon.trainer.synthetic import make_scene, write_transforms_dataset
from blender_gs_addon.trainer.train import TrainConfig, train


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2)


@pytest.mark.parametrize("opacity,copies", [(0.3, 1), (0.9, 2), (0.99, 5), (0.6, 17), (0.05, 51)])
def test_copies_composite_like_the_original_along_a_line(opacity, copies):
    """n coincident copies: the composite at the centre and its integral along a line through the
    centre equal the original's (trapezoidal quadrature of the composited opacity, float64)."""
    o, s = split_opacity_and_scale(torch.tensor([opacity], dtype=torch.float64),
                                   torch.full((1, 3), 0.2, dtype=torch.float64), torch.tensor([copies]))
    o, s = float(o[0]), float(s[0, 0])
    assert 1 - (1 - o) ** copies == pytest.approx(opacity, rel=1e-9)
    x = np.linspace(-3.0, 3.0, 60001)
    composite = 1 - (1 - o * np.exp(-0.5 * (x / s) ** 2)) ** copies
    original = opacity * np.exp(-0.5 * (x / 0.2) ** 2)
    assert _trapezoid(composite, x) == pytest.approx(_trapezoid(original, x), rel=1e-6)
    if copies > 1:
        assert s < 0.2  # the copies are narrower: together they are no wider than the original


def _optimiser(n: int, opacities: torch.Tensor) -> Adam:
    g = torch.Generator().manual_seed(0)
    params = {"means": torch.randn(n, 3, generator=g), "scales_log": torch.full((n, 3), -3.0),
              "quats": torch.tensor([1.0, 0, 0, 0]).repeat(n, 1),
              "opacity_logit": torch.logit(opacities), "sh_dc": torch.rand(n, 1, 3, generator=g),
              "sh_rest": torch.zeros(n, 3, 3)}
    opt = Adam({k: v.requires_grad_(True) for k, v in params.items()}, {k: 1e-3 for k in params})
    for st in opt.state.values():  # moments as after some training
        st["exp_avg"].fill_(1.0)
        st["exp_avg_sq"].fill_(1.0)
    return opt


def test_relocation_moves_dead_gaussians_onto_live_ones_and_growth_stops_at_the_budget():
    n, budget = 40, 44
    opac = torch.full((n,), 0.5)
    opac[:10] = 0.001  # dead
    opt = _optimiser(n, opac)
    sched = Schedule.for_run(3000, extent=1.0)
    strategy = MCMCStrategy(MCMCConfig(max_gaussians=budget), sched, torch.device("cpu"), seed=0)
    opt.lrs["means"] = 0.0  # no position noise: relocation alone
    live_means = opt.params["means"][10:].detach().clone()
    counts = strategy.step_post_optimizer(opt, {}, sched.densify_from + sched.densify_interval
                                          - (sched.densify_from % sched.densify_interval))
    assert counts == {"relocated": 10, "added": 2, "total": 42}  # ceil(40 * 1.05) = 42
    p = opt.params
    # every relocated or added Gaussian sits on a live one
    moved = torch.cat([p["means"][:10], p["means"][40:]]).detach()
    dist = torch.cdist(moved, live_means, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values
    assert float(dist.max()) < 1e-6
    assert bool((torch.sigmoid(p["opacity_logit"]) > 0.005).all())
    # the rows that changed start with fresh moments; untouched ones keep theirs
    changed = (torch.sigmoid(p["opacity_logit"]).detach() < 0.5 - 1e-6)
    assert bool(changed[:10].all())
    assert float(opt.state["opacity_logit"]["exp_avg"][changed].abs().max()) == 0.0
    assert float(opt.state["opacity_logit"]["exp_avg"][~changed].min()) == 1.0
    for _ in range(5):
        strategy._grow(opt)
    assert opt.params["means"].shape[0] == budget


def test_noise_moves_transparent_gaussians_and_leaves_opaque_ones():
    opac = torch.tensor([0.001] * 20 + [0.9] * 20)
    opt = _optimiser(40, opac)
    opt.lrs["means"] = 1e-4
    before = opt.params["means"].detach().clone()
    strategy = MCMCStrategy(MCMCConfig(), Schedule.for_run(3000, 1.0), torch.device("cpu"), seed=0)
    strategy._add_noise(opt)
    step = (opt.params["means"].detach() - before).norm(dim=1)
    assert float(step[:20].min()) > 0
    assert float(step[20:].max()) < 1e-6 * float(step[:20].mean())


def test_training_with_mcmc_keeps_the_budget_and_learns(tmp_path):
    scene = make_scene(n_gaussians=150, n_views=12, size=32, seed=3)
    ds = write_transforms_dataset(scene, str(tmp_path / "ds"), n_points=300)
    budget = 450
    cfg = TrainConfig(dataset=ds, out=str(tmp_path / "out"), iterations=300, device="cpu", sh_degree=1,
                      background="black", show_bar=False, seed=1, strategy="mcmc", max_gaussians=budget,
                      mcmc=MCMCConfig(growth=0.1))  # six milestones in 300 iterations: 300 * 1.1^6 > 450
    counts = []
    cfg.callback = lambda it, model: counts.append(len(model))
    m = train(cfg)
    assert max(counts) <= budget and counts[-1] == budget  # it grew to the budget, never past it
    assert m["scene_gaussians"] == budget
    assert m["psnr"] > 20.0
