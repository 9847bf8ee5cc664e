"""Three-factor STDP solves a distal-reward problem (Izhikevich 2007, Cereb. Cortex, Fig. 1):
among 100 Poisson synapses onto one neuron, only pre-before-post events of synapse 0 are
followed, 1 s later, by dopamine. The eligibility trace bridges the delay, so synapse 0 is
singled out; every other synapse sees rewards uncorrelated with its own events."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxbrain.plasticity import RewardSTDPParams, reward_stdp
from jaxbrain.rng import uniform

N, DT, T = 100, 1.0, 600_000          # 600 s at 1 ms


def test_distal_reward_singles_out_the_rewarded_synapse():
    p = RewardSTDPParams(a_plus=1.0, a_minus=1.05, tau_plus=20.0, tau_minus=20.0, tau_c=1000.0,
                         tau_d=200.0, lr=2e-4, w_min=0.0, w_max=4.0)
    w0 = jnp.full((N, 1), 1.0)

    def body(carry, t):
        w, s, since_pre0, timer = carry
        pre = (uniform(11, 0, t, jnp.arange(N)) < 5e-3).astype(jnp.float32)    # 5 Hz
        post = (uniform(11, 1, t, jnp.arange(1)) < 1e-2).astype(jnp.float32)   # 10 Hz
        since_pre0 = jnp.where(pre[0] > 0, 0.0, since_pre0 + DT)
        event = (post[0] > 0) & (since_pre0 > 0) & (since_pre0 <= 10.0)
        timer = jnp.where(event & (timer < 0), 1000.0, timer - DT)               # 1 s delay
        reward = jnp.where(jnp.abs(timer) < 0.5 * DT, 0.5, 0.0)
        dw, s = reward_stdp.update(p, s, pre, post, w, DT, reward=reward)
        return (w + dw, s, since_pre0, timer), reward

    init = (w0, reward_stdp.init(p, N, 1), jnp.float32(1e9), jnp.float32(-1.0))
    (w, _, _, _), rewards = jax.jit(lambda c: jax.lax.scan(body, c, jnp.arange(T)))(init)
    w = np.asarray(w)[:, 0]
    assert float(np.sum(np.asarray(rewards) > 0)) > 20            # rewards were delivered
    others = w[1:]
    assert w[0] > others.max(), (w[0], others.max())
    assert w[0] - np.median(others) > 3 * others.std()
