"""jaxbrain.profiling.kernel_table: the kernels of one traced call, largest first."""
import jax
import jax.numpy as jnp

from jaxbrain.profiling import kernel_table


def test_kernel_table_lists_the_calls_kernels():
    f = jax.jit(lambda x: jnp.sin(x) @ x)
    x = jnp.ones((256, 256))
    f(x).block_until_ready()
    t = kernel_table(lambda: f(x))
    assert t["timeline"] in ("device", "host")
    assert t["busy_us"] > 0 and t["kernels"] >= 1 and t["rows"]
    totals = [r["total_us"] for r in t["rows"]]
    assert totals == sorted(totals, reverse=True)
    assert abs(sum(r["share"] for r in t["rows"]) - 1.0) < 0.01
