"""Networks of the Rep4Ex learners: autoencoder, Gaussian VAE, additive outcome regressor."""

from __future__ import annotations

import math

import torch
from torch import nn

from crl.deep import mlp

__all__ = ["Autoencoder", "GaussianVAE", "AdditiveRegressor", "LinearSkipEncoder"]


class LinearSkipEncoder(nn.Module):
    """``x -> x W + b + f(x)``: a linear map plus an MLP correction ``f`` whose output layer starts at zero.

    Built from a linear encoder ``W`` (p, d), it starts as exactly that map,
    so training refines a linear solution instead of searching from a random
    network.
    """

    def __init__(self, n_features: int, n_latents: int, hidden: tuple[int, ...], activation: str = "leaky_relu",
                 weight=None):
        super().__init__()
        self.linear = nn.Linear(n_features, n_latents)
        self.correction = mlp(n_features, n_latents, hidden, activation=activation)
        out = self.correction[-1]
        with torch.no_grad():
            nn.init.zeros_(out.weight)
            nn.init.zeros_(out.bias)
            if weight is not None:
                self.linear.weight.copy_(torch.as_tensor(weight, dtype=self.linear.weight.dtype).T)
                nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.correction(x)


class Autoencoder(nn.Module):
    """Encoder ``R^p -> R^d`` and decoder ``R^d -> R^p`` (MLPs, mirrored widths).

    ``linear_skip=True`` makes the encoder a :class:`LinearSkipEncoder`
    (started at ``encoder_weight`` when given).
    """

    def __init__(self, n_features: int, n_latents: int, hidden: tuple[int, ...], activation: str = "leaky_relu",
                 *, linear_skip: bool = False, encoder_weight=None):
        super().__init__()
        if linear_skip:
            self.encoder = LinearSkipEncoder(n_features, n_latents, hidden, activation, weight=encoder_weight)
        else:
            self.encoder = mlp(n_features, n_latents, hidden, activation=activation)
        self.decoder = mlp(n_latents, n_features, tuple(reversed(hidden)), activation=activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


class GaussianVAE(nn.Module):
    """VAE with a standard normal prior and a Gaussian decoder with learned per-feature scales.

    ``encode`` returns the posterior mean (the representation).
    """

    def __init__(self, n_features: int, n_latents: int, hidden: tuple[int, ...], activation: str = "leaky_relu"):
        super().__init__()
        self.n_latents = n_latents
        self.encoder = mlp(n_features, 2 * n_latents, hidden, activation=activation)
        self.decoder = mlp(n_latents, n_features, tuple(reversed(hidden)), activation=activation)
        self.log_scale = nn.Parameter(torch.zeros(n_features))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def negative_elbo(self, x: torch.Tensor, *, beta: float = 1.0, sample: bool = True) -> torch.Tensor:
        """Mean over rows of ``-log p(x | z) + beta KL(q(z | x) || N(0, I))`` (one sample of z)."""
        mu, logvar = self.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu
        log_scale = self.log_scale.clamp(min=math.log(1e-3))
        nll = 0.5 * (((x - self.decoder(z)) / torch.exp(log_scale)) ** 2) + log_scale + 0.5 * math.log(2 * math.pi)
        kl = 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar)
        return (nll.sum(1) + beta * kl.sum(1)).mean()


class AdditiveRegressor(nn.Module):
    """``y = f(z) + h(v)``: the additive control-function regression (rep4ex.md §3.2, pitfall 8).

    Additivity is structural: ``f`` never sees ``v`` and ``h`` never sees
    ``z``, so ``f`` can be evaluated at ``M a* + c + v_i`` far from the joint
    support of ``(z, v)``.
    """

    def __init__(self, n_latents: int, n_controls: int, hidden: tuple[int, ...], activation: str = "leaky_relu"):
        super().__init__()
        self.outcome = mlp(n_latents, 1, hidden, activation=activation)
        self.control = mlp(n_controls, 1, hidden, activation=activation)

    def forward(self, z: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (self.outcome(z) + self.control(v)).squeeze(-1)
