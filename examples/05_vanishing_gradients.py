"""Why a vanilla RNN cannot learn long dependencies: watch the gradient vanish or explode.

A loss at step τ reaches h(t) through the product of τ−t Jacobians
∂h(s)/∂h(s−1) = diag(1 − h(s)²) W. We measure, on minigrad graphs:

1. ‖∂L(τ)/∂h(τ−k)‖ against the distance k for W = s·Q (Q orthogonal), linear and
   tanh, beside the theoretical s^k, and the singular values of the Jacobian products;
2. the eigenvalues of W on the complex plane, and W^k = P diag(λ)^k P⁻¹ numerically;
3. gradient clipping on an exploding (s > 1) run;
4. the success rate of a vanilla RNN on "remember the first symbol for d steps".

Run: python examples/05_vanishing_gradients.py [--quick] [--out docs/img]
(about 3 minutes on 2 cores; --quick is a seconds-long smoke run of the same code).
"""
import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rnn import RNN
from rnn.analysis import (SUCCESS, clipping_run, distance_profiles, eigen, jacobian_products,
                          linear, memory_sweep, scaled_orthogonal, step_jacobians, train_memory)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="tiny sweep, for tests")
parser.add_argument("--out", default="docs/img", help="directory for the PNGs")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
H, tau = 16, (12 if args.quick else 60)
scales = [0.8, 0.9, 1.0, 1.1, 1.2]
colors = dict(zip(scales, plt.cm.coolwarm(np.linspace(0, 1, len(scales)))))


def save(fig, name):
    fig.tight_layout()
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    print(f"wrote {out / name}")


# -- 1. gradient norm against distance ---------------------------------------------------
print(f"1. ‖∂L(τ)/∂h(τ−k)‖ / ‖∂L(τ)/∂h(τ)‖ for W = s·Q, H = {H}, τ = {tau}")
k = np.arange(tau + 1)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
for ax, activation in zip(axes[:2], ["linear", "tanh"]):
    profiles = distance_profiles(scales, H=H, tau=tau, activation=activation)
    for s, ratio in profiles.items():
        ax.semilogy(k, ratio, "o", ms=3, color=colors[s], label=f"measured, s = {s}")
        ax.semilogy(k, s ** k, "--", lw=1, color=colors[s], label=f"$s^k$ = {s}$^k$")
        worst = np.max(np.abs(ratio / s ** k - 1)) if activation == "linear" else np.max(ratio / s ** k)
        print(f"   {activation:6} s = {s}: k = {tau}: {ratio[-1]:.3e} (s^k = {s ** tau:.3e}); "
              + (f"max |ratio / s^k − 1| = {worst:.1e}" if activation == "linear"
                 else f"max ratio / s^k = {worst:.3f}"))
    ax.set(title=f"{activation} RNN, W = s·Q", xlabel="distance k = τ − t",
           ylabel="‖∂L(τ)/∂h(τ−k)‖ / ‖∂L(τ)/∂h(τ)‖")
    ax.legend(fontsize=7, ncol=2)
# singular values of the products ∂h(τ)/∂h(τ−k), tanh, one sequence
rng = np.random.default_rng(0)
model = RNN(4, H, 4, seed=0)
for s in scales:
    model.set_params(W=scaled_orthogonal(H, s, seed=0))
    graph = model.unroll(rng.integers(0, 4, tau))
    sv = np.array([np.linalg.svd(M, compute_uv=False) for M in jacobian_products(step_jacobians(graph, model.W.data))])
    axes[2].semilogy(k, sv[:, 0], color=colors[s], label=f"largest σ, s = {s}")
    axes[2].semilogy(k, sv[:, -1], ":", color=colors[s], label=f"smallest σ, s = {s}")
axes[2].set(title="singular values of ∂h(τ)/∂h(τ−k), tanh", xlabel="distance k", ylabel="singular value")
axes[2].legend(fontsize=7, ncol=2)
save(fig, "grad_norm_vs_distance.png")

# -- 2. eigenvalues of W -------------------------------------------------------------------
print("\n2. eigen-analysis of W: W^k against P diag(λ)^k P⁻¹")
_, trained = train_memory(10, seed=0, steps=60 if args.quick else 400)
matrices = {
    "initial W, N(0, 1/H) entries": RNN(4, H, 4, seed=0).W.data,
    "W after training on the memory task (d = 10)": trained.W.data,
    "0.9·Q, Q orthogonal": scaled_orthogonal(H, 0.9, seed=0),
}
fig, ax = plt.subplots(figsize=(6.2, 6.2))
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
ax.plot(circle.real, circle.imag, "k-", lw=1, label="unit circle |λ| = 1")
for (label, W), marker in zip(matrices.items(), "os^"):
    e = eigen(W)
    ks = range(0, 51, 10)
    errors = [np.abs(e.power(k) - np.linalg.matrix_power(W, k)).max() / max(np.abs(np.linalg.matrix_power(W, k)).max(), 1e-300)
              for k in ks]
    print(f"   {label}: spectral radius {e.spectral_radius:.3f}, largest singular value {e.sigma_max:.3f}, "
          f"κ(P) = {e.condition:.1f}, complex eigenvalues {int((e.eigenvalues.imag != 0).sum())}; "
          f"max relative error of P Λ^k P⁻¹ for k = 0..50: {max(errors):.1e}")
    ax.plot(e.eigenvalues.real, e.eigenvalues.imag, marker, ms=6, mfc="none",
            label=f"{label} (ρ = {e.spectral_radius:.2f}, σ₁ = {e.sigma_max:.2f})")
ax.set(xlabel="Re λ", ylabel="Im λ", title="eigenvalues of W", aspect="equal")
ax.axhline(0, color="0.8", lw=0.5)
ax.axvline(0, color="0.8", lw=0.5)
ax.legend(fontsize=7, loc="lower left")
save(fig, "eigenvalues.png")

# -- 3. clipping an exploding run -----------------------------------------------------------
print("\n3. SGD on a linear RNN from W = 1.2·Q, τ = 30 (∂L/∂W grows like 1.2^30 ≈ 240)")
runs = {"no clipping": clipping_run(None), "clip ‖g‖ ≤ 1": clipping_run(1.0)}
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for (label, run), color in zip(runs.items(), ["tab:red", "tab:blue"]):
    print(f"   {label}: loss per step {np.array2string(np.array(run.loss[:6]), precision=3)} ... "
          f"{run.loss[-1]:.3f} after {len(run.loss) - 1} steps; gradient norms {run.grad_norm[0]:.1f}, "
          f"{run.grad_norm[1]:.3g}, ...; largest update {max(run.update_norm):.3g}")
    axes[0].semilogy(np.arange(len(run.loss)), run.loss, "o-", ms=3, color=color, label=label)
    axes[1].semilogy(np.arange(len(run.grad_norm)), run.grad_norm, "o-", ms=3, color=color,
                     label=f"‖g‖, {label}")
    axes[1].semilogy(np.arange(len(run.update_norm)), run.update_norm, "x:", color=color,
                     label=f"update ‖Δθ‖, {label}")
plain = runs["no clipping"]
axes[0].annotate(f"NaN from step {len(plain.loss) - 1}", (len(plain.loss) - 2, plain.loss[-2]),
                 xytext=(8, 1e25), color="tab:red", arrowprops=dict(arrowstyle="->", color="tab:red"))
axes[0].set(xlabel="SGD step (lr 0.1)", ylabel="mean loss per character (nats)",
            title="exploding gradients: training loss")
axes[1].set(xlabel="SGD step", ylabel="norm", title="gradient and update norms")
for ax in axes:
    ax.legend(fontsize=8)
save(fig, "clipping.png")

# -- 4. the memory task -----------------------------------------------------------------------
gaps = [2, 5, 10] if args.quick else [2, 5, 10, 20, 30, 40, 60, 80, 120]
seeds = range(2 if args.quick else 10)
steps = 60 if args.quick else 400
print(f"\n4. remember the first of 2 symbols across d distractors: H = {H}, Adam lr 0.01, "
      f"{steps} batches of 32, {len(seeds)} seeds; success = held-out accuracy ≥ {SUCCESS}")


def wilson(successes, n, z=1.96):
    """95% Wilson score interval of a success rate."""
    half = z * np.sqrt(successes * (n - successes) / n + z * z / 4) / n
    centre, scale = (successes + z * z / 2) / n, 1 / (1 + z * z / n)
    return scale * (centre - half), scale * (centre + half)


print(f"   {'d':>4} {'success rate':>13} {'95% interval':>15} {'mean accuracy':>14}   accuracies")
accuracies, start = {}, time.time()
with ProcessPoolExecutor(2) as pool:
    for d in gaps:
        accuracies.update(memory_sweep([d], seeds, map=pool.map, steps=steps, hidden=H))
        acc = accuracies[d]
        low, high = wilson((acc >= SUCCESS).sum(), len(acc))
        print(f"   {d:>4} {np.mean(acc >= SUCCESS):>13.2f}    [{low:.2f}, {high:.2f}] {acc.mean():>14.3f}   "
              f"{np.array2string(acc, precision=3)}   ({time.time() - start:.0f} s)", flush=True)
rates = np.array([np.mean(acc >= SUCCESS) for acc in accuracies.values()])
intervals = np.array([wilson((acc >= SUCCESS).sum(), len(acc)) for acc in accuracies.values()]).T
fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.errorbar(gaps, rates, yerr=[rates - intervals[0], intervals[1] - rates], fmt="o-", capsize=3,
            label=f"success rate (accuracy ≥ {SUCCESS}), 95% interval")
ax.plot(gaps, [acc.mean() for acc in accuracies.values()], "s--", label="mean held-out accuracy")
ax.axhline(0.5, color="0.6", lw=1, ls=":", label="chance (2 symbols)")
ax.set_xscale("log")
ax.set(xlabel="gap d (steps between the symbol and the answer)", ylabel="fraction",
       ylim=(-0.05, 1.05), title=f"vanilla RNN, H = {H}, {len(seeds)} seeds, {steps} Adam steps")
ax.set_xticks(gaps, [str(d) for d in gaps])
ax.legend(fontsize=8, loc="lower left")
save(fig, "memory_task.png")
